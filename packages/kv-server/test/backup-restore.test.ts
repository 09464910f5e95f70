/**
 * Backup and restore end to end, as an operator does it: `kvctl snapshot save` from a follower of
 * a cluster under write load, `kvctl snapshot status`, `keel-server restore` of every member of a
 * NEW cluster (other ports, other data directories), and that cluster started by the harness.
 * Every write acknowledged before the backup started is there, with its revision; new writes
 * get higher revisions. Damaged and truncated backups are refused by both tools, and nothing is
 * restored from them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError, type KeelClient } from '@keel/client';
import { Cluster, KVCTL_BIN, PEER_PORT_OFFSET, SERVER_BIN, freeBasePort, nodeDataDir, runNode, waitForProgress } from '@keel/test-support';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-backup-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function cluster(options: Parameters<typeof Cluster.start>[0]): Promise<Cluster> {
  const c = await Cluster.start(options);
  cleanups.push(() => c.destroy());
  return c;
}

interface Ack {
  readonly key: string;
  readonly revision: number;
  /** performance.now() when the acknowledgement arrived. */
  readonly at: number;
}

/** `writers` loops putting unique keys until `stop()`; every acknowledged put is recorded. */
function writeLoad(client: KeelClient, writers: number): { acks: Ack[]; stop: () => Promise<void> } {
  const acks: Ack[] = [];
  let stopping = false;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let seq = 0; !stopping; seq++) {
      const key = `load/${w}/${String(seq).padStart(6, '0')}`;
      try {
        const { revision } = await client.put(key, `value of ${key}`);
        acks.push({ key, revision, at: performance.now() });
      } catch (error) {
        if (!isKeelError(error)) throw error; // an unknown outcome is not an acknowledgement
      }
    }
  });
  return {
    acks,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

/** A new cluster's `--initial-cluster` on fixed ports (the harness's `basePort` layout). */
function initialCluster(base: number, nodes: number): string {
  return Array.from({ length: nodes }, (_, i) => `${i + 1}=127.0.0.1:${base + PEER_PORT_OFFSET + i}/127.0.0.1:${base + i}`).join(',');
}

describe('backup and restore', () => {
  it('a backup taken from a follower under write load restores into a new cluster with every write acknowledged before it started', async () => {
    const source = await cluster({ admin: true });
    const { id: leaderId } = await source.waitForLeader();
    const follower = source.node(source.ids.find((id) => id !== leaderId)!);
    const load = writeLoad(source.client(), 8);
    await waitForProgress(() => load.acks.length >= 300, () => load.acks.length, '300 acknowledged writes');

    const dir = tempDir();
    const file = join(dir, 'cluster.backup');
    const startedAt = performance.now();
    const save = await runNode(KVCTL_BIN, ['--endpoints', follower.clientAddress, 'snapshot', 'save', file]);
    const ackedDuringSave = load.acks.filter((a) => a.at > startedAt).length;
    await load.stop();
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toMatch(new RegExp(`^Snapshot saved at ${file}: revision \\d+, \\d+ keys, \\d+ bytes, sha256 [0-9a-f]{64} \\(from ${follower.adminAddress}\\)\\n$`));
    expect(ackedDuringSave).toBeGreaterThan(0); // the load really ran while the backup was taken
    expect(existsSync(`${file}.part`)).toBe(false);

    const status = await runNode(KVCTL_BIN, ['--json', 'snapshot', 'status', file]);
    expect(status.code, status.stderr).toBe(0);
    const summary = JSON.parse(status.stdout) as { revision: number; keys: number; bytes: number; sha256: string; nodeId: number };
    expect(summary.nodeId).toBe(follower.id);
    expect(summary.bytes).toBe(readFileSync(file).length);
    const before = load.acks.filter((a) => a.at < startedAt);
    expect(before.length).toBeGreaterThanOrEqual(300);
    expect(summary.revision).toBeGreaterThanOrEqual(Math.max(...before.map((a) => a.revision)));
    const table = await runNode(KVCTL_BIN, ['snapshot', 'status', file]);
    expect(table.stdout).toMatch(new RegExp(`^REVISION\\s+KEYS\\s+SIZE\\s+SHA256\\s+TAKEN\\s+FROM\\n${summary.revision}\\s+${summary.keys}\\s+`));

    // Every member of a new cluster (other ports, new data directories) restores the same backup.
    const base = await freeBasePort([0, 1, 2, 100, 101, 102]);
    const root = tempDir();
    for (const id of [1, 2, 3]) {
      const r = await runNode(SERVER_BIN, ['restore', file, '--id', String(id), '--initial-cluster', initialCluster(base, 3), '--data-dir', nodeDataDir(root, id)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`restored revision ${summary.revision} (${summary.keys} keys`);
    }
    const restored = await cluster({ basePort: base, dataRoot: root });
    const client = restored.client();

    const found = new Map<string, { value: string; revision: number }>();
    for await (const e of client.scanAll({ prefix: 'load/' })) found.set(e.keyText, { value: e.text, revision: e.revision });
    expect(found.size).toBe(summary.keys);
    const missing = before.filter((a) => found.get(a.key)?.revision !== a.revision || found.get(a.key)?.value !== `value of ${a.key}`);
    expect(missing).toEqual([]);
    for (const { revision } of found.values()) expect(revision).toBeLessThanOrEqual(summary.revision);
    // The new cluster carries on from the backup's revision.
    expect((await client.put('after/restore', 'yes')).revision).toBeGreaterThan(summary.revision);
  });

  it('refuses damaged and truncated backups (kvctl exit 5, keel-server restore exit 7) and restores nothing; a used data dir is refused too', async () => {
    const source = await cluster({ nodes: 1, admin: true });
    const client = source.client();
    for (let i = 0; i < 50; i++) await client.put(`k${i}`, 'x'.repeat(200));
    const dir = tempDir();
    const file = join(dir, 'good.backup');
    expect((await runNode(KVCTL_BIN, ['--endpoints', source.endpoints[0]!, 'snapshot', 'save', file])).code).toBe(0);
    const good = readFileSync(file);

    const truncated = join(dir, 'truncated.backup');
    writeFileSync(truncated, good.subarray(0, good.length - 100));
    const flipped = join(dir, 'flipped.backup');
    const damaged = Buffer.from(good);
    damaged[Math.floor(good.length / 2)]! ^= 0x40;
    writeFileSync(flipped, damaged);
    const notABackup = join(dir, 'notes.txt');
    writeFileSync(notABackup, 'hello\n');

    const base = await freeBasePort([0, 100]);
    for (const [bad, code, message] of [
      [truncated, 'BACKUP_TRUNCATED', /the backup is truncated: /],
      [flipped, 'BACKUP_CORRUPT', /the backup is damaged: /],
      [notABackup, 'BACKUP_CORRUPT', /the backup is damaged: not a Keel backup: the file does not start with the backup signature/],
    ] as const) {
      const status = await runNode(KVCTL_BIN, ['snapshot', 'status', bad]);
      expect(status.code, status.stderr).toBe(5);
      expect(status.stderr).toMatch(new RegExp(`^kvctl: ${code}: ${message.source}`));
      const target = join(dir, `restored-from-${bad.split('/').pop()}`);
      const restore = await runNode(SERVER_BIN, ['restore', bad, '--id', '1', '--initial-cluster', initialCluster(base, 1), '--data-dir', target]);
      expect(restore.code, restore.stderr).toBe(7);
      expect(restore.stderr).toMatch(message);
      expect(restore.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(target), 'nothing restored').toBe(false);
    }

    // The data directory of a running node is refused (its keel.lock names the live process), and
    // one that holds a node's data is refused after the node stopped too: the node keeps its data.
    const node = source.node(source.ids[0]!);
    const inUse = await runNode(SERVER_BIN, ['restore', file, '--id', '1', '--initial-cluster', initialCluster(base, 1), '--data-dir', node.dataDir]);
    expect(inUse.code, inUse.stderr).toBe(3);
    expect(inUse.stderr).toContain(`data directory ${node.dataDir} is in use by process ${node.pid!} (node 1,`);
    expect((await client.get('k49'))?.text).toBe('x'.repeat(200));
    await node.stop();
    const stopped = await runNode(SERVER_BIN, ['restore', file, '--id', '1', '--initial-cluster', initialCluster(base, 1), '--data-dir', node.dataDir]);
    expect(stopped.code, stopped.stderr).toBe(2);
    expect(stopped.stderr).toMatch(/already holds a node's data; a backup is restored into a new data directory only/);
    await node.start();
    await source.waitForLeader();
    expect((await client.put('k50', 'after')).revision).toBeGreaterThan(50);
    expect((await client.get('k49'))?.text).toBe('x'.repeat(200));

    // A directory restored once holds data: a second restore into it is refused.
    const used = await runNode(SERVER_BIN, ['restore', file, '--id', '1', '--initial-cluster', initialCluster(base, 1), '--data-dir', join(dir, 'restored')]);
    expect(used.code).toBe(0);
    const again = await runNode(SERVER_BIN, ['restore', file, '--id', '1', '--initial-cluster', initialCluster(base, 1), '--data-dir', join(dir, 'restored')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a node's data; a backup is restored into a new data directory only/);
    const missingFile = await runNode(SERVER_BIN, ['restore', join(dir, 'nope'), '--id', '1', '--initial-cluster', initialCluster(base, 1), '--data-dir', join(dir, 'x')]);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toMatch(/cannot read backup file/);
  });

  it('kvctl snapshot save says why when no node can take a consistent snapshot, and leaves no file', async () => {
    const source = await cluster({ nodes: 3, admin: true, network: 'proxy' });
    const { id: leaderId } = await source.waitForLeader();
    const follower = source.node(source.ids.find((id) => id !== leaderId)!);
    source.isolate(follower.id);
    const dir = tempDir();
    const file = join(dir, 'never.backup');
    const save = await runNode(KVCTL_BIN, ['--endpoints', follower.clientAddress, '--timeout', '20000', 'snapshot', 'save', file]);
    expect(save.code, save.stderr).toBe(3);
    expect(save.stderr).toMatch(/^kvctl: (UNAVAILABLE|TIMEOUT): .*refused the backup \(HTTP 503\): no consistent snapshot: /);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.part`)).toBe(false);
  });
});
