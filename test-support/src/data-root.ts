/**
 * A cluster's data root: one directory per node (`node-<id>`). Starting fresh deletes it, but
 * never while a running keel-server holds one of its node dirs.
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { holdersUnder } from './lock-file.js';

/** Node `id`'s data dir under `root`. */
export function nodeDataDir(root: string, id: number): string {
  return join(root, `node-${id}`);
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
 * Deletes `root` and everything in it, after checking that no running node holds any node dir
 * in it (`keel.lock` with a live pid); throws `DataRootInUseError` (or `UnreadableLockError`)
 * and deletes nothing otherwise.
 */
export function clearDataRoot(root: string): void {
  const [held] = holdersUnder(root);
  if (held !== undefined) throw new DataRootInUseError(root, held.pid, dirname(held.file));
  rmSync(root, { recursive: true, force: true });
}
