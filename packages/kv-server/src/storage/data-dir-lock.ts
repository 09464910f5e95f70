/**
 * The data directory lock, `<data-dir>/keel.lock`: which process holds the directory.
 *
 * Its content is a contract with tools (the cluster launcher reads it before `--fresh` deletes
 * anything): exactly one JSON object, `{"pid":<number>,"nodeId":<number>,"startedAt":"<ISO 8601>"}`.
 *
 * - A node creates it before LevelDB opens: written to a temporary file and hard-linked into
 *   place, so it appears atomically, complete, and only if absent.
 * - A lock whose process is alive means the directory is in use: `StoreError('LOCKED')` naming
 *   the pid. A lock whose process is gone (a crash, kill -9) is stale: it is replaced, with a
 *   warning. So is an unreadable one (it cannot come from a live node: locks appear complete).
 * - A clean shutdown removes it (only if it is still this process's own).
 *
 * LevelDB's own `LOCK` (an flock) remains the last word on mutual exclusion: this file adds who
 * holds the directory, for people and tools, and is checked first. A pid reused by an unrelated
 * process after a crash makes a stale lock look live; the error says to delete the file then.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '@keel/raft';
import { StoreError } from './errors.js';

export const DATA_DIR_LOCK_FILE = 'keel.lock';

/** The content of `keel.lock`. */
export interface DataDirLock {
  readonly pid: number;
  readonly nodeId: number;
  /** When the holder started, ISO 8601. */
  readonly startedAt: string;
}

/** A lock as a tool sees it: its content, and whether its process is alive now. */
export interface DataDirLockState extends DataDirLock {
  readonly alive: boolean;
}

/** Directories this process holds (a second open of one of them in this process is refused too). */
const heldHere = new Set<string>();

/**
 * Reads the lock of data directory `dir`: `null` when there is none, else its holder and whether
 * that process is alive. Throws `StoreError('CORRUPTED')` when `keel.lock` is not a lock file.
 */
export async function readDataDirLock(dir: string): Promise<DataDirLockState | null> {
  let text: string;
  try {
    text = await readFile(join(dir, DATA_DIR_LOCK_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const lock = parseLock(text);
  if (lock === null) throw new StoreError('CORRUPTED', `${join(dir, DATA_DIR_LOCK_FILE)} is not a Keel lock file: ${JSON.stringify(text.slice(0, 200))}`);
  return { ...lock, alive: isProcessAlive(lock.pid) };
}

/** The lock this process holds on a data directory. */
export class DataDirLockHandle {
  private released = false;

  constructor(
    readonly dir: string,
    readonly lock: DataDirLock,
  ) {}

  /** Removes `keel.lock` if it is still this one. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(resolve(this.dir));
    const path = join(this.dir, DATA_DIR_LOCK_FILE);
    let current: DataDirLock | null = null;
    try {
      current = parseLock(await readFile(path, 'utf8'));
    } catch {
      return; // gone already
    }
    if (current !== null && current.pid === this.lock.pid && current.startedAt === this.lock.startedAt) {
      await unlink(path).catch(() => undefined);
    }
  }
}

/**
 * Takes data directory `dir` (created when missing) for node `nodeId` of this process.
 * Throws `StoreError('LOCKED')` when a live process holds it; I/O errors (ENOSPC, EACCES) as they are.
 */
export async function acquireDataDirLock(dir: string, nodeId: number, logger?: Logger): Promise<DataDirLockHandle> {
  const key = resolve(dir);
  const path = join(dir, DATA_DIR_LOCK_FILE);
  if (heldHere.has(key)) throw new StoreError('LOCKED', `data directory ${dir} is already open in this process`);
  await mkdir(dir, { recursive: true });
  const lock: DataDirLock = { pid: process.pid, nodeId, startedAt: new Date().toISOString() };
  // Two rounds: a stale lock is removed in the first, the second creates ours (or loses a race).
  for (let round = 0; round < 2; round++) {
    if (await createExclusive(path, JSON.stringify(lock))) {
      heldHere.add(key);
      return new DataDirLockHandle(dir, lock);
    }
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile: try again
      throw error;
    }
    const holder = parseLock(text);
    // Our own pid but not held here: a lock left by an earlier process that had this pid.
    if (holder !== null && holder.pid !== process.pid && isProcessAlive(holder.pid)) {
      throw new StoreError(
        'LOCKED',
        `data directory ${dir} is in use by process ${holder.pid} (node ${holder.nodeId}, started ${holder.startedAt}); ` +
          `stop it first, or if no such process runs, delete ${path}`,
      );
    }
    logger?.log('warn', 'storage.lock.stale', { path, previous: holder ?? text.slice(0, 200), reason: holder === null ? 'unreadable' : 'process gone' });
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  throw new StoreError('LOCKED', `data directory ${dir} is being locked by another process at the same time`);
}

/** Creates `path` holding `content`, atomically and only if it does not exist; false if it does. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { flag: 'wx' });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  // A file system without hard links: exclusive create, then write (a reader may see it empty for a moment).
  try {
    await writeFile(path, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function parseLock(text: string): DataDirLock | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { pid, nodeId, startedAt } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return null;
  if (!Number.isSafeInteger(nodeId) || (nodeId as number) < 0) return null;
  if (typeof startedAt !== 'string') return null;
  return { pid: pid as number, nodeId: nodeId as number, startedAt };
}

/**
 * Whether process `pid` holds anything: it exists (signal 0 checks without signalling; EPERM: it
 * exists, as another user) and has not exited. A zombie — exited, not yet reaped by its parent;
 * state Z in Linux's /proc — holds nothing: where PID 1 does not reap orphans (a container
 * without an init), a keel-server killed after its parent died stays a zombie for good.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // Gone meanwhile; or no /proc (not Linux), where the signal check is all there is.
    return !existsSync('/proc/self/stat');
  }
  // "pid (comm) S ...": the state follows the last ')' (comm may contain ')' itself).
  return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
}
