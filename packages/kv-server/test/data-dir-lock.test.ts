/**
 * Issue 9 item 1 (server part): `pnpm cluster --fresh` deleted the data directory of a running
 * cluster, whose nodes went on acknowledging writes into deleted files. Every node now holds
 * `<data-dir>/keel.lock`, `{"pid","nodeId","startedAt"}` (a contract: the launcher reads it before
 * deleting anything), taken before LevelDB opens and removed on a clean shutdown; a second process
 * on the same directory is refused with one line naming the holder and exit status 3.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, TEST_TUNING, freePorts, runServer, waitForProgress } from '@keel/test-support';
import { DATA_DIR_LOCK_FILE, openLevelStores, readDataDirLock } from '../src/index.js';
import { wireClient } from './support/wire-client.js';
import { recordingLogger } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-lock-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
}

/**
 * A process that has exited and is not reaped yet (a zombie): the child of a Node process whose
 * event loop is blocked in a synchronous read of its stdin, so it cannot reap. Ending that stdin
 * (cleanup) lets the parent reap the child and exit.
 */
async function zombiePid(): Promise<number> {
  const parent = spawn(
    process.execPath,
    ['-e', "const c = require('node:child_process').spawn(process.execPath, ['-e', ''], { stdio: 'ignore' }); process.stdout.write(c.pid + '\\n'); require('node:fs').readSync(0, Buffer.alloc(1));"],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => parent.on('exit', resolve));
  cleanup.push(async () => {
    parent.stdin.end();
    await exited;
  });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    parent.once('error', reject);
  });
  const state = (): string => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  };
  await waitForProgress(() => state() === 'Z', state, `process ${pid} exiting`);
  return pid;
}

describe('data directory lock (keel.lock)', () => {
  it('is written exactly as the contract says while the store is open, and removed when it closes', async () => {
    const dir = tempDir();
    const store = await openLevelStores(dir, { nodeId: 7 });
    const text = readFileSync(join(dir, DATA_DIR_LOCK_FILE), 'utf8');
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['pid', 'nodeId', 'startedAt']);
    expect(parsed['pid']).toBe(process.pid);
    expect(parsed['nodeId']).toBe(7);
    expect(new Date(String(parsed['startedAt'])).toISOString()).toBe(parsed['startedAt']);
    expect(await readDataDirLock(dir)).toEqual({ ...parsed, alive: true });
    // A second open of the same directory is refused, even in the same process.
    await expect(openLevelStores(dir, { nodeId: 8 })).rejects.toMatchObject({ name: 'StoreError', code: 'LOCKED' });
    await store.close();
    expect(existsSync(join(dir, DATA_DIR_LOCK_FILE))).toBe(false);
    expect(await readDataDirLock(dir)).toBeNull();
  });

  it('replaces a stale lock (its process is gone) or an unreadable one, with a warning', async () => {
    const dir = tempDir();
    const pid = await deadPid();
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), JSON.stringify({ pid, nodeId: 3, startedAt: new Date(0).toISOString() }));
    expect(await readDataDirLock(dir)).toMatchObject({ pid, nodeId: 3, alive: false });
    const logger = recordingLogger('store');
    const store = await openLevelStores(dir, { nodeId: 3, logger });
    expect(logger.records.find((r) => r.event === 'storage.lock.stale')).toMatchObject({ level: 'warn', fields: { reason: 'process gone' } });
    expect(await readDataDirLock(dir)).toMatchObject({ pid: process.pid, nodeId: 3, alive: true });
    await store.close();

    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), 'not json');
    await expect(readDataDirLock(dir)).rejects.toMatchObject({ code: 'CORRUPTED' });
    const again = await openLevelStores(dir, { nodeId: 3, logger });
    expect(logger.records.filter((r) => r.event === 'storage.lock.stale').at(-1)).toMatchObject({ fields: { reason: 'unreadable' } });
    await again.close();
  });

  it.runIf(existsSync('/proc/self/stat'))('counts a lock whose process is a zombie (exited, never reaped) as stale', async () => {
    // Where PID 1 does not reap orphans (a container without an init), a killed keel-server whose
    // parent had died stays a zombie for good: its lock must not keep the directory from restarting.
    const dir = tempDir();
    const pid = await zombiePid();
    writeFileSync(join(dir, DATA_DIR_LOCK_FILE), JSON.stringify({ pid, nodeId: 3, startedAt: new Date(0).toISOString() }));
    expect(await readDataDirLock(dir)).toMatchObject({ pid, alive: false });
    const logger = recordingLogger('store');
    const store = await openLevelStores(dir, { nodeId: 3, logger });
    expect(logger.records.find((r) => r.event === 'storage.lock.stale')).toMatchObject({ fields: { reason: 'process gone' } });
    await store.close();
  });

  it('a second keel-server on a running node’s data directory is refused (exit 3, one line naming the pid); nothing is touched', async () => {
    const cluster = await Cluster.start({ nodes: 1 });
    cleanup.push(() => cluster.destroy());
    const node = cluster.node(1);
    const first = node.process!;
    const client = await wireClient(cluster, 1);
    expect(await client.put('k', 'before')).toMatchObject({ ok: true });
    expect(await readDataDirLock(node.dataDir)).toMatchObject({ pid: first.pid, nodeId: 1, alive: true });

    const [peerPort, clientPort] = await freePorts(2);
    const second = await runServer([
      '--id', '1', '--data-dir', node.dataDir, '--initial-cluster', `1=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`, ...TEST_TUNING,
    ]);
    expect(second.code, second.stderr).toBe(3);
    const lines = second.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^keel-server: data directory .* is in use by process ${first.pid} \\(node 1, started .*\\)`));
    // The running node still holds its directory and serves what it had.
    expect(await readDataDirLock(node.dataDir)).toMatchObject({ pid: first.pid, alive: true });
    expect(await client.get('k')).toBe('before');

    // A clean shutdown removes the lock; after kill -9 the stale lock is replaced at the next start.
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    expect(await readDataDirLock(node.dataDir)).toBeNull();
    const restarted = await node.start();
    await node.kill();
    expect(await readDataDirLock(node.dataDir)).toMatchObject({ pid: restarted.pid, alive: false });
    const third = await node.start();
    expect(third.logs.some((l) => l.event === 'storage.lock.stale' && l.level === 'warn')).toBe(true);
    expect(await readDataDirLock(node.dataDir)).toMatchObject({ pid: third.pid, alive: true });
  });
});
