/**
 * How kvctl prints things: aligned tables for people, JSON for programs, and byte strings in
 * forms that keep every byte (escaped, hex, or as they are). Pure functions.
 */
import type { KeelError, Member } from '@keel/protocol';
import { utf8OrUndefined } from '../bytes.js';
import type { KvEntry } from '../entry.js';
import type { EndpointStatus } from '../results.js';

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** The `kvctl status` table: one row per endpoint, unreachable ones included. */
export function formatStatusTable(statuses: readonly EndpointStatus[]): string {
  const rows = statuses.map((s) =>
    s.ok
      ? [
          String(s.status.id),
          s.endpoint,
          s.status.role,
          String(s.status.term),
          s.status.leader === 0 ? '-' : String(s.status.leader),
          String(s.status.commit),
          String(s.status.applied),
          String(s.status.lastIndex),
          '',
        ]
      : ['-', s.endpoint, 'unreachable', '-', '-', '-', '-', '-', `${s.error.code}: ${s.error.message}`],
  );
  const header = ['ID', 'ENDPOINT', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LAST-INDEX', 'ERROR'];
  // The ERROR column only when some endpoint failed.
  if (statuses.every((s) => s.ok)) return formatTable(header.slice(0, -1), rows.map((r) => r.slice(0, -1)));
  return formatTable(header, rows);
}

/** The `kvctl member list` table; the leader is marked with `*`. */
export function formatMemberTable(members: readonly Member[], leader: number): string {
  const rows = [...members]
    .sort((a, b) => a.id - b.id)
    .map((m) => [String(m.id) + (m.id === leader ? '*' : ''), m.role, m.peerAddress, m.clientAddress]);
  return formatTable(['ID', 'ROLE', 'PEER-ADDRESS', 'CLIENT-ADDRESS'], rows);
}

/** Bytes for JSON: a string when they are valid UTF-8, else `{ base64 }`. */
export function jsonBytes(bytes: Uint8Array): string | { base64: string } {
  const text = utf8OrUndefined(bytes);
  return text !== undefined ? text : { base64: Buffer.from(bytes).toString('base64') };
}

/** An entry as JSON. */
export function entryJson(e: KvEntry): Record<string, unknown> {
  return { key: jsonBytes(e.key), value: jsonBytes(e.value), revision: e.revision, createRevision: e.createRevision, version: e.version };
}

/** An endpoint status as JSON. */
export function statusJson(s: EndpointStatus): Record<string, unknown> {
  return s.ok ? { endpoint: s.endpoint, ok: true, ...s.status } : { endpoint: s.endpoint, ok: false, error: errorJson(s.error) };
}

/** A KeelError as JSON. */
export function errorJson(e: KeelError): Record<string, unknown> {
  return { code: e.code, message: e.message, definite: e.definite, ...(e.leaderId !== undefined ? { leaderId: e.leaderId } : {}) };
}

/** Every byte as `\xNN` (etcdctl's `--hex`). */
export function hexBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * Bytes as text that shows every byte unambiguously: printable UTF-8 as it is; a backslash as
 * `\\`; tab, newline and carriage return as `\t`, `\n`, `\r`; any other control character or
 * byte that is not valid UTF-8 as `\xNN` (per byte). With `quoted`, also `"` as `\"`, inside quotes.
 */
export function escapeBytes(bytes: Uint8Array, quoted = false): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      i++;
      continue;
    }
    const char = Buffer.from(bytes.subarray(i, i + length)).toString('utf8');
    const code = char.codePointAt(0)!;
    if (char === '\\') out += '\\\\';
    else if (quoted && char === '"') out += '\\"';
    else if (char === '\t') out += '\\t';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0) || code === 0x2028 || code === 0x2029) {
      for (const byte of bytes.subarray(i, i + length)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else out += char;
    i += length;
  }
  return quoted ? `"${out}"` : out;
}

/** The length of the valid UTF-8 sequence starting at `i` (1-4), or 0 when it is not one. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const continuation = (k: number): boolean => i + k < bytes.length && (bytes[i + k]! & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf) return continuation(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (!continuation(1) || !continuation(2)) return 0;
    const b1 = bytes[i + 1]!;
    if ((b0 === 0xe0 && b1 < 0xa0) || (b0 === 0xed && b1 >= 0xa0)) return 0; // overlong, surrogate
    return 3;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    const b1 = bytes[i + 1]!;
    if ((b0 === 0xf0 && b1 < 0x90) || (b0 === 0xf4 && b1 >= 0x90)) return 0; // overlong, past U+10FFFF
    return 4;
  }
  return 0;
}
