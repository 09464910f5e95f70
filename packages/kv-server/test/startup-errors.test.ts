/**
 * Issue 9 item 6: a held LevelDB lock and a full disk both said "Database failed to open", and a
 * port in use printed a JSON blob with a stack trace on stdout and nothing on stderr, all with
 * exit status 1. Each start-up failure now names its cause in one line on stderr, with its own
 * exit status (3 data directory in use, 4 no space, 5 cannot listen), and the JSON log line
 * carries the cause without a stack.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts, runServer } from '@keel/test-support';
import { readDataDirLock } from '../src/index.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-start-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(dir: string, peerPort: number, clientPort: number) {
  const r = await runServer(['--id', '1', '--data-dir', dir, '--initial-cluster', `1=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`]);
  const stderr = r.stderr.split('\n').filter((l) => l !== '');
  expect(stderr, r.stderr).toHaveLength(1);
  expect(r.stdout).not.toContain('"stack"');
  const failure = r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['event'] === 'node.start_failed');
  return { code: r.code, line: stderr[0]!, logged: failure };
}

/** A TCP server holding `port` until the test ends. */
async function occupy(port: number): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
}

describe('keel-server start-up failures: one line on stderr naming the cause, a status per cause', () => {
  it('a client or peer port in use: exit 5, naming the listener and the address; the data directory is released', async () => {
    const dir = tempDir();
    const [peerPort, clientPort] = await freePorts(2);
    await occupy(clientPort!);
    const clients = await start(dir, peerPort!, clientPort!);
    expect(clients.code).toBe(5);
    expect(clients.line).toBe(
      `keel-server: cannot listen for clients on 127.0.0.1:${clientPort}: address already in use (EADDRINUSE); another process listens there`,
    );
    expect(clients.logged).toMatchObject({ level: 'error', cause: 'EADDRINUSE', exitStatus: 5 });
    expect(await readDataDirLock(dir)).toBeNull();

    const [otherClientPort] = await freePorts(1, [peerPort!, clientPort!]);
    await occupy(peerPort!);
    const peers = await start(tempDir(), peerPort!, otherClientPort!);
    expect(peers.code).toBe(5);
    expect(peers.line).toMatch(new RegExp(`^keel-server: cannot listen for peers on 127\\.0\\.0\\.1:${peerPort}: address already in use`));
  });

  it("LevelDB's lock held by another process: exit 3, 'LOCK: held by another process'", async () => {
    const dir = tempDir();
    const db = new Level(join(dir, 'db'));
    await db.open();
    cleanup.push(() => db.close());
    const [peerPort, clientPort] = await freePorts(2);
    const r = await start(dir, peerPort!, clientPort!);
    expect(r.code).toBe(3);
    expect(r.line).toMatch(/^keel-server: data directory .* is in use by another process \(LevelDB's .*LOCK: held by another process\)$/);
  });

  it('no space left on the device: exit 4, saying so', async () => {
    const dir = tempDir();
    // Every write LevelDB makes to the first manifest of a new database fails with ENOSPC.
    mkdirSync(join(dir, 'db'));
    symlinkSync('/dev/full', join(dir, 'db', 'MANIFEST-000001'));
    const [peerPort, clientPort] = await freePorts(2);
    const r = await start(dir, peerPort!, clientPort!);
    expect(r.code).toBe(4);
    expect(r.line).toMatch(/^keel-server: no space left on the device: .*No space left on device/);
  });
});
