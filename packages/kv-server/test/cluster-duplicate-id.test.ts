/**
 * Issue 9 item 9 (handshake part), end to end: a second keel-server started with a member's id
 * used to make the two processes take turns replacing each other's connections (230 reconnects in
 * 10 s, logged at INFO). Now the members refuse the second process at the handshake, both sides
 * log an ERROR, the impostor backs off, and the cluster carries on with the real node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, NodeProcess, TEST_TUNING, freePorts, splitAddress, waitForProgress, type LogLine } from '@keel/test-support';
import { wireClient } from './support/wire-client.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const refused = (l: LogLine): boolean => l.event === 'peer.handshake.refused';

describe('a second process with a member’s id', () => {
  it('is refused at the handshake with an ERROR on both sides, backs off, and does not disturb the real node', async () => {
    const cluster = await Cluster.start({ nodes: 3 });
    cleanup.push(() => cluster.destroy());

    const dataDir = mkdtempSync(join(tmpdir(), 'keel-impostor-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const taken = cluster.nodes.flatMap((n) => [n.addresses.listenPeer, n.addresses.listenClient].map((a) => splitAddress(a).port));
    const [peerPort, clientPort] = await freePorts(2, taken);
    const impostor = NodeProcess.spawn({
      label: 'impostor (node 2)',
      args: [
        '--id', '2', '--data-dir', dataDir, '--initial-cluster', cluster.initialCluster,
        '--listen-peer', `127.0.0.1:${peerPort}`, '--listen-client', `127.0.0.1:${clientPort}`, ...TEST_TUNING,
      ],
    });
    cleanup.push(() => impostor.kill('SIGKILL'));

    await impostor.waitForLog((l) => refused(l) && l['peer'] === 1);
    await impostor.waitForLog((l) => refused(l) && l['peer'] === 3);
    for (const id of [1, 3]) {
      const line = await cluster.node(id).waitForLog((l) => refused(l) && l['peer'] === 2);
      expect(line.level).toBe('error');
      expect(String(line['error'])).toMatch(/node 2 is already connected .* are two processes running with id 2\?/);
    }
    // Let it retry a few times against each member: every retry is a chance to disturb node 2.
    const refusedBy = (peer: number): number => impostor.logs.filter((l) => refused(l) && l['peer'] === peer).length;
    await waitForProgress(() => refusedBy(1) >= 4 && refusedBy(3) >= 4, () => impostor.logs.length, 'four refused dials of each member by the impostor');
    const byImpostor = impostor.logs.filter(refused);
    expect(byImpostor.every((l) => l.level === 'error')).toBe(true);
    // Backing off: each retry to a member waits at least as long as the one before.
    for (const peer of [1, 3]) {
      const delays = byImpostor.filter((l) => l['peer'] === peer).map((l) => Number(l['retryInMs']));
      for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    }
    // The real node 2 keeps its connections: nobody replaced them, it did not reconnect.
    for (const id of [1, 3]) expect(cluster.node(id).logs.some((l) => l.event === 'peer.inbound.replaced')).toBe(false);
    expect(cluster.node(2).logs.filter((l) => l.event === 'peer.disconnected' || l.event === 'peer.link.silent')).toEqual([]);
    const client = await wireClient(cluster, (await cluster.waitForLeader()).id);
    expect(await client.put('after-impostor', 'ok')).toMatchObject({ ok: true });
  });
});
