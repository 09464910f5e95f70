/**
 * The lock a running keel-server keeps in its data dir: `<data-dir>/keel.lock`, JSON
 * `{"pid": <number>, "nodeId": <number>, "startedAt": "<ISO time>"}`, present while the node runs.
 * A lock whose pid is not alive is stale (the node was killed) and holds nothing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './node-process.js';

export const LOCK_FILE = 'keel.lock';

export interface NodeLock {
  readonly pid: number;
  readonly nodeId: number;
  readonly startedAt: string;
  /** The lock file it was read from. */
  readonly file: string;
}

/** Thrown when a lock file exists but does not say who holds it. */
export class UnreadableLockError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file} is unreadable (${reason}); if no keel-server uses that data dir, delete the file`);
    this.name = 'UnreadableLockError';
  }
}

/** The lock in `dataDir`, live or stale; undefined when there is none. */
export function readNodeLock(dataDir: string): NodeLock | undefined {
  const file = join(dataDir, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UnreadableLockError(file, (error as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnreadableLockError(file, 'not JSON');
  }
  const { pid, nodeId, startedAt } = (parsed ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0) throw new UnreadableLockError(file, 'no valid "pid"');
  return {
    pid: pid as number,
    nodeId: typeof nodeId === 'number' ? nodeId : 0,
    startedAt: typeof startedAt === 'string' ? startedAt : '',
    file,
  };
}

/** The live lock on `dataDir`: the process that holds it now, if any. */
export function holderOf(dataDir: string): NodeLock | undefined {
  const lock = readNodeLock(dataDir);
  return lock !== undefined && isAlive(lock.pid) ? lock : undefined;
}

/** Live locks in the node dirs directly under `root` (none when `root` does not exist). */
export function holdersUnder(root: string): NodeLock[] {
  let entries: string[];
  try {
    entries = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.flatMap((name) => {
    const lock = holderOf(join(root, name));
    return lock === undefined ? [] : [lock];
  });
}
