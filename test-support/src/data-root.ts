/**
 * A cluster's data root: one directory per node (`node-<id>`). Starting fresh deletes it, but
 * never while a running keel-server holds one of its node dirs. Who holds a dir is the server's
 * business: its `keel.lock`, read with the server's own `readDataDirLock`.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataDirLock, type DataDirLockState } from '@keel/kv-server';

/** Node `id`'s data dir under `root`. */
export function nodeDataDir(root: string, id: number): string {
  return join(root, `node-${id}`);
}

/** A node dir that a running process holds: its lock, and the dir. */
export interface HeldDataDir extends DataDirLockState {
  readonly dataDir: string;
}

/** Thrown instead of deleting a data root that a running node holds. */
export class DataRootInUseError extends Error {
  constructor(
    readonly root: string,
    readonly pid: number,
    readonly dataDir: string,
  ) {
    super(`${dataDir} is in use by pid ${pid}; stop that process first (nothing was deleted)`);
    this.name = 'DataRootInUseError';
  }
}

/**
 * The node dirs directly under `root` that a live process holds, by name (none when `root` does
 * not exist). A `keel.lock` that is not a lock file rejects with the server's
 * `StoreError('CORRUPTED')` naming it.
 */
export async function holdersUnder(root: string): Promise<HeldDataDir[]> {
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const held: HeldDataDir[] = [];
  for (const name of names) {
    const dataDir = join(root, name);
    const lock = await readDataDirLock(dataDir);
    if (lock?.alive === true) held.push({ ...lock, dataDir });
  }
  return held;
}

/**
 * Deletes `root` and everything in it, after checking that no running node holds any node dir
 * in it; rejects with `DataRootInUseError` (or the server's `StoreError` for an unreadable lock)
 * and deletes nothing otherwise.
 */
export async function clearDataRoot(root: string): Promise<void> {
  const [held] = await holdersUnder(root);
  if (held !== undefined) throw new DataRootInUseError(root, held.pid, held.dataDir);
  await rm(root, { recursive: true, force: true });
}
