/**
 * Issue 14, TLS for clients, end to end: a real 3-node cluster with TLS on every link and client
 * certificates required. A client with the cluster's CA and a client certificate is served; every
 * mismatch — plaintext at a TLS port, TLS at a plaintext port, an untrusted server, no client
 * certificate, one from another CA, an expired one — fails at once with TLS_FAILED saying which,
 * never with a hang or a timeout; kvctl exits 2 with one line. A certificate reloaded with
 * SIGHUP is used for new connections, without a restart.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeelClient, KeelError, type TlsOptions } from '@keel/client';
import { Cluster, KVCTL_BIN, clusterCa, createCa, issueCertificate, kvctlTlsArgs, runNode } from '@keel/test-support';

let cluster: Cluster;
let ca: Buffer;
let scratch: string;
const clients: KeelClient[] = [];

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3, tls: true });
  ca = readFileSync(cluster.tls!.ca);
  scratch = mkdtempSync(join(tmpdir(), 'keel-tls-client-'));
});

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

/** A client with `tls` (plaintext when undefined) on `endpoints` (default: the cluster's). */
function client(tls: TlsOptions | undefined, endpoints = cluster.endpoints): KeelClient {
  const c = new KeelClient({ endpoints, timeoutMs: 10_000, ...(tls !== undefined ? { tls } : {}) });
  clients.push(c);
  return c;
}

/** The cluster's own client certificate and key. */
function clientCert(): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(cluster.tls!.clientCert), key: readFileSync(cluster.tls!.clientKey) };
}

async function tlsFailure(attempt: Promise<unknown>): Promise<KeelError> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).code, String(error)).toBe('TLS_FAILED');
  expect((error as KeelError).definite).toBe(true);
  return error as KeelError;
}

/** The status of the one endpoint of a client: rejects with the endpoint's error. */
async function statusOf(c: KeelClient): Promise<unknown> {
  const [answer] = await c.status();
  if (answer === undefined || !answer.ok) throw answer?.error ?? new Error('no answer');
  return answer.status;
}

describe('TLS on the client port', () => {
  it('serves a client with the CA and a client certificate, and kvctl with --cacert --cert --key', async () => {
    const c = client({ ca, ...clientCert() });
    await c.put('tls-key', 'over tls');
    expect((await c.get('tls-key'))?.value.toString()).toBe('over tls');
    const r = await runNode(KVCTL_BIN, ['--endpoints', cluster.endpoints.join(','), ...kvctlTlsArgs(cluster.tls!), 'get', 'tls-key']);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'over tls\n' });
  });

  it('kvctl endpoint health checks each endpoint over TLS too', async () => {
    const args = ['--endpoints', cluster.endpoints.join(','), '--json', 'endpoint', 'health'];
    const r = await runNode(KVCTL_BIN, [...kvctlTlsArgs(cluster.tls!), ...args]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { endpoint: string; health: boolean }[];
    expect(rows.map((row) => [row.endpoint, row.health])).toEqual(cluster.endpoints.map((e) => [e, true]));
    const plain = await runNode(KVCTL_BIN, args);
    expect(plain.code).toBe(3);
    const refused = JSON.parse(plain.stdout) as { health: boolean; error: { code: string } }[];
    expect(refused.map((row) => [row.health, row.error.code])).toEqual(cluster.endpoints.map(() => [false, 'TLS_FAILED']));
  });

  it('a plaintext client at a TLS port gets TLS_FAILED (the server answers it in plaintext)', async () => {
    const error = await tlsFailure(client(undefined).get('tls-key'));
    expect(error.message).toContain('this client port requires TLS');
    const r = await runNode(KVCTL_BIN, ['--endpoints', cluster.endpoints.join(','), 'get', 'tls-key']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^kvctl: TLS_FAILED: .*requires TLS/)]);
  });

  it('a TLS client at a plaintext port gets TLS_FAILED naming a plaintext port', async () => {
    const plain = await Cluster.start({ nodes: 1 });
    try {
      const error = await tlsFailure(client({ ca, ...clientCert() }, plain.endpoints).get('k'));
      expect(error.message).toMatch(/does not speak TLS: a plaintext port/);
      expect(plain.node(1).logs.some((l) => l.event === 'client.frame.rejected' && l['code'] === 'TLS_FAILED')).toBe(true);
    } finally {
      await plain.destroy();
    }
  });

  it('a client that does not trust the server’s CA gets TLS_FAILED, and so does kvctl', async () => {
    const other = createCa('another CA');
    const error = await tlsFailure(client({ ca: other.cert, ...clientCert() }).get('tls-key'));
    expect(error.message).toContain('not signed by a trusted CA');
    const caFile = join(scratch, 'other-ca.pem');
    writeFileSync(caFile, other.cert);
    const r = await runNode(KVCTL_BIN, ['--endpoints', cluster.endpoints.join(','), '--cacert', caFile, 'get', 'tls-key']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kvctl: TLS_FAILED: .*not signed by a trusted CA/);
  });

  it('client certificate required: none, one from another CA, or an expired one gets TLS_FAILED', async () => {
    const none = await tlsFailure(client({ ca }).get('tls-key'));
    expect(none.message).toContain('a client certificate is required');

    const stranger = issueCertificate(createCa('another CA'), { commonName: 'stranger' });
    const untrusted = await tlsFailure(client({ ca, cert: stranger.cert, key: stranger.key }).get('tls-key'));
    expect(untrusted.message).toContain('this node refuses the client: its certificate is not signed by a trusted CA');

    const expired = issueCertificate(clusterCa(cluster.tls!), {
      commonName: 'expired',
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const late = await tlsFailure(client({ ca, cert: expired.cert, key: expired.key }).get('tls-key'));
    expect(late.message).toContain('this node refuses the client: its certificate has expired');
    const refusals = cluster.nodes.flatMap((n) => n.logs.filter((l) => l.event === 'client.tls.refused').map((l) => String(l['error'])));
    expect(refusals.some((e) => e.includes('a client certificate is required'))).toBe(true);
    expect(refusals.some((e) => e.includes('not signed by a trusted CA'))).toBe(true);
    expect(refusals.some((e) => e.includes('has expired'))).toBe(true);
  });

  it('SIGHUP reloads the certificates: new connections to that node use the new ones', async () => {
    const newCa = createCa('the new CA');
    const server = issueCertificate(newCa, { commonName: 'keel-server, renewed' });
    const clientOfNewCa = issueCertificate(newCa, { commonName: 'new client' });
    const files = cluster.tls!;
    const before = { cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey), ca: readFileSync(files.ca) };
    writeFileSync(files.serverCert, server.cert);
    writeFileSync(files.serverKey, server.key);
    writeFileSync(files.ca, `${before.ca.toString()}${newCa.cert}`); // both CAs sign client certificates now
    try {
      const [n1, n2] = [cluster.node(1), cluster.node(2)];
      const trustsNew = { ca: newCa.cert, cert: clientOfNewCa.cert, key: clientOfNewCa.key };
      // Nothing changes until the signal: the node keeps the certificates it read.
      await tlsFailure(statusOf(client(trustsNew, [n1.clientAddress])));

      const reloads = n1.logs.filter((l) => l.event === 'tls.reloaded').length;
      n1.process!.signal('SIGHUP');
      await n1.waitForLog((l) => l.event === 'tls.reloaded' && l['flags'] === '--client' && n1.logs.filter((x) => x.event === 'tls.reloaded').length >= reloads + 2);
      expect(n1.logs.filter((l) => l.event === 'tls.reload.failed')).toEqual([]);
      expect(await statusOf(client(trustsNew, [n1.clientAddress]))).toMatchObject({ id: 1 });
      // Node 2 was not signalled: it still presents the old certificate.
      await tlsFailure(statusOf(client(trustsNew, [n2.clientAddress])));
      // The peer links (reloaded too, from unchanged files) still carry writes. The client trusts
      // both CAs: node 1 may be the leader its write goes to.
      const trustsBoth = { ca: `${before.ca.toString()}${newCa.cert}`, ...clientCert() };
      await client(trustsBoth, [n2.clientAddress, cluster.node(3).clientAddress]).put('after-reload', 'yes');

      // A reload from files that cannot be used is logged, and the node keeps what it had.
      writeFileSync(files.serverKey, 'garbage\n');
      n1.process!.signal('SIGHUP');
      const failed = await n1.waitForLog((l) => l.event === 'tls.reload.failed');
      expect(failed.level).toBe('error');
      expect(String(failed['error'])).toContain('--client-cert/-key');
      expect(await statusOf(client(trustsNew, [n1.clientAddress]))).toMatchObject({ id: 1 });
    } finally {
      writeFileSync(files.serverCert, before.cert);
      writeFileSync(files.serverKey, before.key);
      writeFileSync(files.ca, before.ca);
    }
  });
});
