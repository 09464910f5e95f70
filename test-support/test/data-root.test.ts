/**
 * Nothing deletes a data root while a keel-server holds one of its node dirs. Who holds a dir is
 * what the server wrote in its keel.lock, read with the server's own reader: here a real
 * keel-server holds node 2's dir, and its lock holds nothing once the process is gone.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATA_DIR_LOCK_FILE } from '@keel/kv-server';
import { DataRootInUseError, NodeProcess, TEST_TUNING, clearDataRoot, freePorts, holdersUnder, nodeDataDir } from '@keel/test-support';

let root: string;
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'keel-data-root-test-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

/** A one-node keel-server on `dataDir`, once it has started (and so holds the dir). */
async function serverOn(dataDir: string, id: number): Promise<NodeProcess> {
  const [peerPort, clientPort] = await freePorts(2);
  const server = NodeProcess.spawn({
    label: `node ${id}`,
    args: ['--id', String(id), '--data-dir', dataDir, '--initial-cluster', `${id}=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`, ...TEST_TUNING],
  });
  cleanups.push(() => server.kill('SIGKILL'));
  await server.waitForLog((l) => l.event === 'node.started');
  return server;
}

describe('the data root', () => {
  it('clearDataRoot deletes nothing while a running keel-server holds a node dir, and everything once it is gone', async () => {
    const held = nodeDataDir(root, 2);
    mkdirSync(nodeDataDir(root, 1));
    writeFileSync(join(root, 'cluster.json'), '{}');
    const server = await serverOn(held, 2);

    expect(await holdersUnder(root)).toEqual([{ pid: server.pid, nodeId: 2, startedAt: expect.any(String), alive: true, dataDir: held }]);
    const refused = clearDataRoot(root);
    await expect(refused).rejects.toBeInstanceOf(DataRootInUseError);
    await expect(refused).rejects.toThrow(`${held} is in use by pid ${server.pid}; stop that process first (nothing was deleted)`);
    expect(existsSync(join(root, 'cluster.json'))).toBe(true);

    // kill -9 leaves the lock behind; it holds nothing once its process is gone.
    await server.kill('SIGKILL');
    expect(existsSync(join(held, DATA_DIR_LOCK_FILE))).toBe(true);
    expect(await holdersUnder(root)).toEqual([]);
    await clearDataRoot(root);
    expect(existsSync(root)).toBe(false);
  });

  it('sees no holder under a root that does not exist, and deletes nothing under an unreadable lock', async () => {
    expect(await holdersUnder(join(root, 'missing'))).toEqual([]);
    mkdirSync(nodeDataDir(root, 1));
    writeFileSync(join(nodeDataDir(root, 1), DATA_DIR_LOCK_FILE), '{"pid": 12');
    await expect(clearDataRoot(root)).rejects.toMatchObject({ name: 'StoreError', code: 'CORRUPTED' });
    expect(existsSync(join(nodeDataDir(root, 1), DATA_DIR_LOCK_FILE))).toBe(true);
  });
});
