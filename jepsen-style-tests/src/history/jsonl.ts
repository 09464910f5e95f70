import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../atomic-write.js';
import type { Op } from './op.js';
import { HistoryError, opShapeProblem, type HistoryProblem } from './validate.js';

/** One line of `history.jsonl` (no newline), fields in the DESIGN §6 order. */
export function formatEvent(op: Op): string {
  const { process, type, f, key, value, time, node, error, revision } = op;
  return JSON.stringify({
    process,
    type,
    f,
    key,
    value,
    time,
    ...(node === undefined ? {} : { node }),
    ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }),
    ...(revision === undefined ? {} : { revision }),
  });
}

/**
 * Streams a history to a file, one line per event, each written to the file (not buffered in
 * this process) before `append` returns, so a crash of the runner loses no recorded event.
 */
export class HistoryWriter {
  private fd: number | undefined;
  private count = 0;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Creates (or truncates) `path`. */
  static open(path: string): HistoryWriter {
    return new HistoryWriter(path, openSync(path, 'w'));
  }

  /** Events written so far. */
  get written(): number {
    return this.count;
  }

  append(op: Op): void {
    if (this.fd === undefined) throw new Error(`history writer for ${this.path} is closed`);
    const problem = opShapeProblem(op);
    if (problem !== undefined) throw new HistoryError([{ line: this.count + 1, message: problem }]);
    writeSync(this.fd, `${formatEvent(op)}\n`);
    this.count++;
  }

  /** Syncs the file to disk and closes it; idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Parses `history.jsonl` text; throws `HistoryError` naming every bad line. Only the empty string
 * after the final newline may be blank, so event k is always line k.
 */
export function parseHistory(text: string): Op[] {
  const ops: Op[] = [];
  const problems: HistoryProblem[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      problems.push({ line: i + 1, message: `not JSON: ${(error as Error).message}` });
      return;
    }
    const problem = opShapeProblem(parsed);
    if (problem === undefined) ops.push(parsed as Op);
    else problems.push({ line: i + 1, message: problem });
  });
  if (problems.length > 0) throw new HistoryError(problems);
  return ops;
}

export async function readHistory(path: string): Promise<Op[]> {
  return parseHistory(await readFile(path, 'utf8'));
}

/** Writes a whole history at once, atomically (a temporary file renamed over `path`). */
export async function writeHistoryFile(path: string, history: readonly Op[]): Promise<void> {
  await writeFileAtomically(path, history.map((op) => `${formatEvent(op)}\n`).join(''));
}
