/**
 * The data directory remembers how it was bootstrapped (issue 9, item 2): a start that fails
 * before its listeners are up leaves it un-bootstrapped, and a restart whose --initial-cluster
 * disagrees with it is refused in one line naming both, unless explicitly overridden.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeProcess, TEST_TUNING, freePorts, runServer } from '@keel/test-support';
import { openLevelStores } from '../src/storage/index.js';
import { WireClient } from './support/wire-client.js';

let dir: string;
const procs: NodeProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-boot-'));
});
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: readonly string[]): NodeProcess {
  const proc = NodeProcess.spawn({ args });
  procs.push(proc);
  return proc;
}

async function statusAddress(clientPort: number): Promise<string> {
  const c = await WireClient.connect(clientPort);
  try {
    return (await c.call({ op: 'status' })).clientAddress;
  } finally {
    c.close();
  }
}

describe('bootstrapping a data directory', () => {
  it('leaves the data dir un-bootstrapped when a port is in use, so a corrected --initial-cluster is used', async () => {
    const [peerPort, busyPort, clientPort] = (await freePorts(3)) as [number, number, number];
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(busyPort, '127.0.0.1', resolve));
    try {
      const data = join(dir, 'data');
      const failed = await runServer(['--id', '1', '--data-dir', data, '--initial-cluster', `1=127.0.0.1:${peerPort}/127.0.0.1:${busyPort}`, ...TEST_TUNING]);
      expect(failed.code).not.toBe(0);
      const stores = await openLevelStores(data);
      expect(stores.log.isPristine).toBe(true);
      expect(stores.log.bootstrappedWith).toBeUndefined();
      await stores.close();
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
    const corrected = `1=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`;
    const proc = start(['--id', '1', '--data-dir', join(dir, 'data'), '--initial-cluster', corrected, ...TEST_TUNING]);
    await proc.waitForLog((l) => l.event === 'leader.changed' && l['leader'] === 1);
    // It advertises the corrected address, which now is the one in its log.
    expect(await statusAddress(clientPort)).toBe(`127.0.0.1:${clientPort}`);
  });

  it('refuses a restart whose --initial-cluster disagrees, naming both, unless told to ignore it', async () => {
    const [peerPort, clientPort, otherPort] = (await freePorts(3)) as [number, number, number];
    const data = join(dir, 'data');
    const original = `1=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`;
    const first = start(['--id', '1', '--data-dir', data, '--initial-cluster', original, ...TEST_TUNING]);
    await first.waitForLog((l) => l.event === 'leader.changed' && l['leader'] === 1);
    expect(await first.kill('SIGTERM')).toEqual({ code: 0, signal: null });

    const changed = `1=127.0.0.1:${peerPort}/127.0.0.1:${otherPort}`;
    const refused = await runServer(['--id', '1', '--data-dir', data, '--initial-cluster', changed, ...TEST_TUNING]);
    expect(refused.code).toBe(2);
    const lines = refused.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^keel-server: configuration error: --initial-cluster /);
    expect(lines[0]).toContain(changed);
    expect(lines[0]).toContain(original);
    expect(lines[0]).toContain('--ignore-initial-cluster-mismatch');

    // The same flags as the bootstrap start again (also after the membership changed, the record is the bootstrap's).
    const again = start(['--id', '1', '--data-dir', data, '--initial-cluster', original, ...TEST_TUNING]);
    await again.waitForLog((l) => l.event === 'leader.changed' && l['leader'] === 1);
    expect(await again.kill('SIGTERM')).toEqual({ code: 0, signal: null });

    // Overridden: starts with the stored membership (it listens where the flags say, advertises the log's address).
    const forced = start(['--id', '1', '--data-dir', data, '--initial-cluster', changed, '--ignore-initial-cluster-mismatch', ...TEST_TUNING]);
    await forced.waitForLog((l) => l.event === 'config.initial_cluster_ignored');
    await forced.waitForLog((l) => l.event === 'leader.changed' && l['leader'] === 1);
    expect(await statusAddress(otherPort)).toBe(`127.0.0.1:${clientPort}`);
  });
});
