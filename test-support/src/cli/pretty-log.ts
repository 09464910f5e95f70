/** Node log lines for a human: "n2 │ 12:00:01.234 INFO  raft.leader_elected term=3 k=v". */

const COLOR = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92];
const LEVEL_COLOR: Record<string, number> = { debug: 90, info: 0, warn: 33, error: 31 };

export function paint(code: number, text: string): string {
  return COLOR ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** "n2 │", in node 2's colour. */
export function nodePrefix(id: number): string {
  return paint(PALETTE[(id - 1) % PALETTE.length]!, `n${id} │`);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** One JSON log line, pretty; anything else as it is. */
export function prettyLine(prefix: string, line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return `${prefix} ${line}`;
  }
  if (typeof record !== 'object' || record === null) return `${prefix} ${line}`;
  const { ts, level, event, nodeId: _nodeId, stack, ...rest } = record as Record<string, unknown>;
  const time = typeof ts === 'string' ? ts.slice(11, 23) : '';
  const lvl = String(level ?? '').toUpperCase().padEnd(5);
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const text = `${time} ${paint(LEVEL_COLOR[String(level)] ?? 0, lvl)} ${String(event ?? '')}${fields ? ' ' + paint(90, fields) : ''}`;
  return `${prefix} ${text}${typeof stack === 'string' ? '\n' + stack : ''}`;
}
