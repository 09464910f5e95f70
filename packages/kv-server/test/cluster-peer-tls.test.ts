/**
 * Issue 14, mutual TLS between members, end to end with real processes: nodes 1 and 2 run with
 * `--peer-cert/--peer-key/--peer-ca`; node 3 is started in turn without TLS, as a member of
 * another cluster (another CA and cluster id), with an expired certificate, and finally with a
 * good one. Each wrong node is refused by the TLS layer — before its hello is read (the other
 * cluster's id is never even seen) — with an ERROR naming the reason on both sides, and the two
 * good nodes carry on; the good certificate lets node 3 in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, clusterCa, issueCertificate, writeClusterTls, type ClusterNode, type ClusterTls, type LogLine } from '@keel/test-support';

let dir: string;
let good: ClusterTls;
let cluster: Cluster;

const peerFlags = (files: ClusterTls): string[] => ['--peer-cert', files.peerCert, '--peer-key', files.peerKey, '--peer-ca', files.ca];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keel-peer-tls-'));
  good = writeClusterTls(join(dir, 'good'));
  // Node 3 starts without TLS: a plaintext node among TLS ones.
  cluster = await Cluster.start({ nodes: 3, waitForLeader: false, nodeArgs: (id) => (id === 3 ? [] : peerFlags(good)) });
  await cluster.waitForLeader({ among: [1, 2] });
});

afterAll(async () => {
  await cluster?.destroy();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const refused = (l: LogLine): boolean => l.event === 'peer.handshake.refused' && l['code'] === 'TLS_FAILED';
const says = (l: LogLine, pattern: RegExp): boolean => pattern.test(String(l['error']));

/** The first line of `node`'s log from line `from` on, past or future, matching `pred`. */
function logFrom(node: ClusterNode, from: number, pred: (l: LogLine) => boolean): Promise<LogLine> {
  return node.waitForLog((l) => node.logs.indexOf(l) >= from && pred(l));
}

/** Restarts node 3 with `flags`; resolves with where node 1's log stood before. */
async function restartNode3(flags: readonly string[]): Promise<number> {
  const mark = cluster.node(1).logs.length;
  await cluster.node(3).restart({ args: flags });
  return mark;
}

/** Node 3 knows no leader: it has not heard from the others. */
async function node3IsAlone(): Promise<void> {
  const [answer] = await cluster.client({ endpoints: [cluster.node(3).clientAddress] }).status();
  expect(answer).toMatchObject({ ok: true, status: { id: 3, leader: 0 } });
}

describe('mutual TLS between members', () => {
  it('a plaintext node is refused both ways: at the TLS port, and by its plaintext port', async () => {
    const [n1, n3] = [cluster.node(1), cluster.node(3)];
    const inbound = await logFrom(n1, 0, (l) => refused(l) && l['by'] === 'local' && String(l['error']).includes('requires TLS'));
    expect(inbound.level).toBe('error');
    const told = await logFrom(n3, 0, (l) => refused(l) && l['by'] === 'peer' && l['peer'] === 1);
    expect(String(told['error'])).toContain("node 1's peer port requires TLS");
    await logFrom(n3, 0, (l) => refused(l) && l['by'] === 'local' && String(l['error']).includes('does not use TLS'));
    const outbound = await logFrom(n1, 0, (l) => refused(l) && l['peer'] === 3);
    expect(String(outbound['error'])).toContain('does not speak TLS: a plaintext port?');
    await node3IsAlone();
  });

  it('a node of another cluster (another CA) is refused before its hello is read', async () => {
    const other = writeClusterTls(join(dir, 'other'));
    const mark = await restartNode3([...peerFlags(other), '--cluster-id', 'another-cluster']);
    const n1 = cluster.node(1);
    // Node 3 trusts node 1's certificate no more than node 1 trusts its own: whichever end checks
    // first hangs up, and the other logs that.
    const inbound = await logFrom(n1, mark, (l) => refused(l) && l['peer'] === undefined && says(l, /not signed by a trusted CA|does it trust this node's certificate\?/));
    expect(inbound.level).toBe('error');
    await logFrom(n1, mark, (l) => refused(l) && l['peer'] === 3 && says(l, /its certificate is not signed by a trusted CA/));
    await logFrom(cluster.node(3), 0, (l) => refused(l) && says(l, /not signed by a trusted CA/));
    // Its hello never reached node 1: the cluster id it carries would have been refused loudly.
    expect(n1.logs.slice(mark).filter((l) => l['code'] === 'CLUSTER_MISMATCH')).toEqual([]);
    await node3IsAlone();
  });

  it('a node with an expired certificate from the right CA is refused, naming the expiry', async () => {
    const expired = issueCertificate(clusterCa(good), {
      commonName: 'keel-peer (expired)',
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const cert = join(dir, 'expired.pem');
    const key = join(dir, 'expired.key');
    writeFileSync(cert, expired.cert);
    writeFileSync(key, expired.key);
    const mark = await restartNode3(['--peer-cert', cert, '--peer-key', key, '--peer-ca', good.ca]);
    const n1 = cluster.node(1);
    await logFrom(n1, mark, (l) => refused(l) && l['by'] === 'local' && says(l, /node 1 refuses the dialling node: its certificate has expired/));
    await logFrom(n1, mark, (l) => refused(l) && l['peer'] === 3 && says(l, /its certificate has expired/));
    await logFrom(cluster.node(3), 0, (l) => refused(l) && l['by'] === 'peer' && l['peer'] === 1 && says(l, /its certificate has expired/));
    await node3IsAlone();
  });

  it('with a certificate signed by the CA, the node joins in and catches up', async () => {
    await cluster.client().put('before-node-3', 'x');
    await restartNode3(peerFlags(good));
    const leader = await cluster.waitForLeader();
    const n3 = cluster.client({ endpoints: [cluster.node(3).clientAddress] });
    await cluster.client().put('with-node-3', 'y');
    await expect.poll(async () => (await n3.get('with-node-3', { consistency: 'serializable' }))?.value.toString()).toBe('y');
    expect(leader.leader).not.toBe(0);
  });
});
