/**
 * keel.lock as keel-server writes it while it runs: `{"pid", "nodeId", "startedAt"}`. A live pid
 * holds the data dir; a dead one is stale. Nothing deletes a held data root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataRootInUseError, LOCK_FILE, UnreadableLockError, clearDataRoot, holderOf, holdersUnder, readNodeLock } from '@keel/test-support';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'keel-lock-test-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function lock(dir: string, pid: number, nodeId = 1): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, nodeId, startedAt: '2025-01-01T00:00:00.000Z' }));
}

describe('the data dir lock', () => {
  it('reads a lock, tells a live holder from a stale one, and sees none where there is none', () => {
    const live = join(root, 'node-1');
    const stale = join(root, 'node-2');
    lock(live, process.pid, 1);
    lock(stale, deadPid(), 2);
    mkdirSync(join(root, 'node-3'));
    expect(readNodeLock(live)).toEqual({ pid: process.pid, nodeId: 1, startedAt: '2025-01-01T00:00:00.000Z', file: join(live, LOCK_FILE) });
    expect(holderOf(live)?.pid).toBe(process.pid);
    expect(readNodeLock(stale)?.nodeId).toBe(2);
    expect(holderOf(stale)).toBeUndefined();
    expect(readNodeLock(join(root, 'node-3'))).toBeUndefined();
    expect(holdersUnder(root).map((l) => l.nodeId)).toEqual([1]);
    expect(holdersUnder(join(root, 'missing'))).toEqual([]);
  });

  it('calls an unreadable lock unreadable and says what to do', () => {
    const dir = join(root, 'node-1');
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), '{"pid": 12');
    expect(() => readNodeLock(dir)).toThrow(UnreadableLockError);
    writeFileSync(join(dir, LOCK_FILE), '{"nodeId": 1}');
    expect(() => readNodeLock(dir)).toThrow(/no valid "pid".*delete the file/);
  });

  it('clearDataRoot deletes nothing while a node dir is held, and everything once the lock is stale', () => {
    lock(join(root, 'node-2'), process.pid, 2);
    writeFileSync(join(root, 'cluster.json'), '{}');
    let error: unknown;
    try {
      clearDataRoot(root);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataRootInUseError);
    expect((error as Error).message).toBe(`${join(root, 'node-2')} is in use by pid ${process.pid}; stop that process first (nothing was deleted)`);
    expect(existsSync(join(root, 'cluster.json'))).toBe(true);

    lock(join(root, 'node-2'), deadPid(), 2);
    clearDataRoot(root);
    expect(existsSync(root)).toBe(false);
  });
});
