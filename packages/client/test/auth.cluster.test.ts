/**
 * Issue 14, authentication and authorization end to end: a real 3-node cluster with TLS on every
 * link and client certificates required, set up with kvctl as an operator would (root user, auth
 * enable, roles on key prefixes). Users without permission try every operation and get
 * PERMISSION_DENIED with nothing about the keys leaked; a read-only role; prefix boundaries; a
 * wrong password; a revoked role and a changed password take effect on open connections; a
 * client certificate's common name authenticates; leases are revoked and their keys listed only
 * with write / read on every key they hold; a watch needs read on its range and ends when that is
 * revoked; writes racing the revocation of their role never apply after it; the auth state survives a restart of every
 * node and reaches a node that was down through a snapshot.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeelClient, KeelError, type AuthOptions } from '@keel/client';
import { Cluster, KVCTL_BIN, clusterCa, issueCertificate, kvctlTlsArgs, runNode, type RunResult } from '@keel/test-support';

let cluster: Cluster;
const clients: KeelClient[] = [];
const SECRET = 'top-secret-value';

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3, tls: true, serverArgs: ['--snapshot-entries', '300'] });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await cluster?.destroy();
});

function tls(cert?: { cert: string; key: string }): { ca: string; cert: string; key: string } {
  const own = { cert: readFileSync(cluster.tls!.clientCert, 'utf8'), key: readFileSync(cluster.tls!.clientKey, 'utf8') };
  return { ca: readFileSync(cluster.tls!.ca, 'utf8'), ...(cert ?? own) };
}

function client(auth?: AuthOptions, options: { endpoints?: string[]; cert?: { cert: string; key: string } } = {}): KeelClient {
  const c = new KeelClient({
    endpoints: options.endpoints ?? cluster.endpoints,
    timeoutMs: 10_000,
    tls: tls(options.cert),
    ...(options.endpoints !== undefined ? { followRedirects: false } : {}),
    ...(auth !== undefined ? { auth } : {}),
  });
  clients.push(c);
  return c;
}

function kvctl(args: readonly string[]): Promise<RunResult> {
  return runNode(KVCTL_BIN, ['--endpoints', cluster.endpoints.join(','), ...kvctlTlsArgs(cluster.tls!), ...args]);
}

async function failure(attempt: Promise<unknown> | (() => Promise<unknown>)): Promise<KeelError> {
  const error = await (typeof attempt === 'function' ? attempt() : attempt).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a refusal').toBeInstanceOf(KeelError);
  return error as KeelError;
}

async function denied(attempt: Promise<unknown> | (() => Promise<unknown>)): Promise<void> {
  const error = await failure(attempt);
  expect(error.code, error.message).toBe('PERMISSION_DENIED');
  expect(error.definite).toBe(true);
  expect(error.message).not.toContain(SECRET);
  expect(error.message).not.toContain('secret/');
}

const ALICE = { user: 'alice', password: 'alice-pw' };
const BOB = { user: 'bob', password: 'bob-pw' };
const CAROL = { user: 'carol', password: 'carol-pw' };
const ROOT = { user: 'root', password: 'root-pw' };

describe('auth', () => {
  it('is set up with kvctl: enable refuses without root, then root, roles on prefixes, users, enable', async () => {
    const early = await kvctl(['auth', 'enable']);
    expect(early.code, early.stderr).toBe(4);
    expect(early.stderr).toContain('AUTH_CONFLICT');
    expect(early.stderr).toContain('user root');
    const steps = [
      ['user', 'add', 'root', '--new-user-password', ROOT.password],
      ['user', 'add', `alice:${ALICE.password}`],
      ['user', 'add', `bob:${BOB.password}`],
      ['user', 'add', `carol:${CAROL.password}`],
      ['role', 'add', 'app'],
      ['role', 'grant', 'app', 'readwrite', 'app/', '--prefix'],
      ['role', 'add', 'reader'],
      ['role', 'grant', 'reader', 'read', 'app/', '--prefix'],
      ['role', 'grant', 'reader', 'read', 'public'],
      ['user', 'grant-role', 'alice', 'app'],
      ['user', 'grant-role', 'bob', 'reader'],
    ];
    for (const step of steps) {
      const r = await kvctl(step);
      expect(r.code, `${step.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const root = client();
    await root.put('secret/plans', SECRET);
    await root.put('public', 'hello');
    await root.put('app/one', '1');
    const enable = await kvctl(['auth', 'enable']);
    expect(enable).toMatchObject({ code: 0, stdout: 'Authentication Enabled\n' });
    const status = await kvctl(['auth', 'status']);
    expect(status.stdout).toMatch(/^Authentication Status: true\nAuthRevision: \d+\n$/);
    const role = await kvctl(['--user', `root:${ROOT.password}`, 'role', 'get', 'reader']);
    expect(role).toMatchObject({ code: 0, stdout: 'Role reader\nKV Read:\n\tapp/ (prefix app/)\n\tpublic\nKV Write:\n' });
    const user = await kvctl(['--user', 'root', '--password', ROOT.password, 'user', 'get', 'root']);
    expect(user).toMatchObject({ code: 0, stdout: 'User: root\nRoles: root\n' });
  });

  it('refuses an unauthenticated client with AUTH_REQUIRED (status still answers) and a wrong password with AUTH_FAILED', async () => {
    const anonymous = client();
    const required = await failure(anonymous.get('public'));
    expect(required.code).toBe('AUTH_REQUIRED');
    expect(required.definite).toBe(true);
    const [status] = await anonymous.status();
    expect(status?.ok).toBe(true);
    const wrong = await failure(client({ user: 'alice', password: 'nope' }).get('app/one'));
    expect(wrong).toMatchObject({ code: 'AUTH_FAILED', definite: true });
    const nobody = await failure(client({ user: 'mallory', password: 'nope' }).get('app/one'));
    expect(nobody.code).toBe('AUTH_FAILED');
    // The same words for a wrong password and an unknown user: no hint whether the user exists.
    for (const e of [wrong, nobody]) expect(e.message).toMatch(/refused the credentials: authentication failed: wrong user name or password$/);
    const r = await kvctl(['--user', 'alice:nope', 'get', 'app/one']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('AUTH_FAILED');
    const noTty = await kvctl(['--user', 'alice', 'get', 'app/one']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('not a terminal');
  });

  it('a user without any role is denied every operation, and learns nothing about the keys', async () => {
    const c = client(CAROL);
    const k = 'secret/plans';
    await denied(c.get(k));
    await denied(c.get(k, { consistency: 'serializable' }));
    await denied(c.put(k, 'x'));
    await denied(c.delete(k));
    await denied(c.deleteRange({ prefix: 'secret/' }));
    await denied(c.deleteRange({ start: 'a', end: 'z' }));
    await denied(c.scan({ prefix: 'secret/' }));
    await denied(c.scan({ start: '' }));
    await denied(c.cas(k, { expectValue: SECRET }, 'y'));
    await denied(c.cas(k, { expectAbsent: true }, 'y'));
    await denied(c.txn({ compare: [{ key: k, target: 'value', op: '=', value: SECRET }], success: [], failure: [] }));
    await denied(c.txn({ compare: [], success: [{ op: 'get', key: k }], failure: [] }));
    await denied(c.memberAddLearner({ id: 9, peerAddress: '127.0.0.1:1', clientAddress: '127.0.0.1:2' }));
    await denied(c.memberPromote(2));
    await denied(c.memberRemove(3));
    await denied(c.transferLeader(2));
    await denied(c.digest(cluster.endpoints[0]!));
    await denied(c.userList());
    await denied(c.userAdd('eve', 'pw'));
    await denied(c.userGrantRole('carol', 'app'));
    await denied(c.roleGrant('app', 'readwrite', { prefix: '' }));
    await denied(c.authDisable());
    // Any authenticated user may list the members (clients route with them) and read the status.
    expect((await c.memberList()).members).toHaveLength(3);
    expect((await c.authStatus()).enabled).toBe(true);
    // Nothing was written by any of it.
    expect((await client(ROOT).get(k))?.text).toBe(SECRET);
    const r = await kvctl(['--user', `carol:${CAROL.password}`, 'get', k]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('PERMISSION_DENIED');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('a read-only role reads its prefix and nothing else, and writes nothing', async () => {
    const c = client(BOB);
    expect((await c.get('app/one'))?.text).toBe('1');
    expect((await c.get('public'))?.text).toBe('hello');
    expect((await c.scan({ prefix: 'app/' })).entries.map((e) => e.keyText)).toEqual(['app/one']);
    expect((await c.txn({ compare: [{ key: 'app/one', target: 'exists', value: true }], success: [{ op: 'get', key: 'public' }], failure: [] })).succeeded).toBe(true);
    await denied(c.put('app/one', 'x'));
    await denied(c.delete('app/one'));
    await denied(c.cas('app/one', { expectValue: '1' }, 'x'));
    await denied(c.txn({ compare: [], success: [{ op: 'put', key: 'app/two', value: 'x' }], failure: [] }));
    await denied(c.txn({ compare: [], success: [], failure: [{ op: 'delete', key: 'app/one' }] }));
    await denied(c.get('publicity')); // one key, not a prefix
    await denied(c.scan({ prefix: 'public' }));
    expect((await c.get('app/one'))?.text).toBe('1');
  });

  it('prefix boundaries: readwrite on app/ is exactly the keys under app/', async () => {
    const c = client(ALICE);
    await c.put('app/two', '2');
    await c.put('app/', 'the prefix itself');
    await c.delete('app/two', { prevKv: true });
    expect((await c.deleteRange({ prefix: 'app/x' })).deleted).toBe(0);
    await denied(c.put('app', 'x'));
    await denied(c.put('app0', 'x')); // '0' follows '/': the first key past the prefix
    await denied(c.put('ap', 'x'));
    await denied(c.scan({ prefix: 'ap' }));
    await denied(c.scan({ start: 'app/' })); // to the last key: beyond the prefix
    expect((await c.scan({ start: 'app/', end: 'app0' })).entries.length).toBe(2);
    await denied(c.deleteRange({ start: 'app/', end: 'app1' }));
    await denied(c.txn({ compare: [{ key: 'secret/plans', target: 'exists', value: true }], success: [{ op: 'put', key: 'app/t', value: 'x' }], failure: [] }));
    await denied(c.txn({ compare: [], success: [{ op: 'put', key: 'app/t', value: 'x' }], failure: [{ op: 'range', start: 'app/', end: 'b' }] }));
    expect((await c.txn({ compare: [], success: [{ op: 'put', key: 'app/t', value: 'x' }, { op: 'range', start: 'app/', end: 'app0' }], failure: [] })).succeeded).toBe(true);
    const r = await kvctl(['--user', `alice:${ALICE.password}`, 'scan', 'app/', '--keys-only']);
    expect(r).toMatchObject({ code: 0, stdout: 'app/\napp/one\napp/t\n' });
  });

  it("leases: a user may grant and keep alive its own, revokes only a lease whose keys it may write, lists keys only it may read", async () => {
    const root = client(ROOT);
    const carol = client(CAROL);
    const alice = client(ALICE);
    const held = await root.leaseGrant(60, { keepAlive: false });
    await root.put('secret/leased', SECRET, { lease: held.id });
    // Anyone logged in may grant, renew and list leases, and read a lease's TTL without its keys.
    const own = await carol.leaseGrant(60, { keepAlive: false });
    expect((await carol.leaseKeepAliveOnce(own.id)).id).toBe(own.id);
    expect(await carol.leaseList()).toEqual(expect.arrayContaining([held.id, own.id]));
    expect((await carol.leaseTimeToLive(held.id)).id).toBe(held.id);
    // Its keys, and revoking it (which deletes them), need read / write on every key it holds.
    await denied(carol.leaseTimeToLive(held.id, { keys: true }));
    await denied(carol.leaseRevoke(held.id));
    await denied(alice.leaseRevoke(held.id));
    expect((await root.get('secret/leased'))?.text).toBe(SECRET);
    // Alice's lease on a key of her prefix is hers to list and revoke; a lease holding nothing too.
    const alices = await alice.leaseGrant(60, { keepAlive: false });
    await alice.put('app/leased', 'x', { lease: alices });
    expect((await alice.leaseTimeToLive(alices, { keys: true })).keys?.length).toBe(1);
    expect((await alice.leaseRevoke(alices)).deleted).toBe(1);
    expect(await alice.get('app/leased')).toBeNull();
    expect((await carol.leaseRevoke(own)).deleted).toBe(0);
    await root.leaseRevoke(held);
  });

  it('watches: read on the whole range to open, and a revoked role ends an open watch before it sends another event', async () => {
    const root = client(ROOT);
    await root.userAdd('fay', 'fay-pw');
    await root.roleAdd('feed');
    await root.roleGrant('feed', 'read', { prefix: 'feed/' });
    await root.userGrantRole('fay', 'feed');
    const fay = client({ user: 'fay', password: 'fay-pw' });
    await denied(fay.watch({ prefix: 'secret/' }).ready);
    await denied(fay.watch({ prefix: 'feed' }).ready); // wider than feed/
    await denied(fay.compact(1));
    const w = fay.watch({ prefix: 'feed/' });
    const start = await w.ready;
    const seen: string[] = [];
    const ended = (async () => {
      for await (const change of w) seen.push(`${change.kv.keyText}=${change.kv.text}`);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    await root.put('feed/1', 'one');
    await expect.poll(() => seen).toEqual(['feed/1=one']);
    await root.userRevokeRole('fay', 'feed');
    await root.put('feed/2', SECRET);
    const error = (await ended) as KeelError;
    expect(error).toBeInstanceOf(KeelError);
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(seen).toEqual(['feed/1=one']);
    expect(start).toBeGreaterThan(0);
  });

  it('a revoked role, a changed password and a deleted user take effect on connections already open', async () => {
    const root = client(ROOT);
    await root.userAdd('dan', 'dan-pw');
    await root.userGrantRole('dan', 'app');
    const dan = client({ user: 'dan', password: 'dan-pw' });
    await dan.put('app/dan', '1');
    await root.userRevokeRole('dan', 'app');
    await denied(dan.put('app/dan', '2'));
    await root.userGrantRole('dan', 'app');
    await dan.put('app/dan', '3');
    await root.roleRevoke('app', { prefix: 'app/' });
    await denied(dan.get('app/dan'));
    await root.roleGrant('app', 'readwrite', { prefix: 'app/' });
    await root.userPasswd('dan', 'dan-pw-2');
    const again = await failure(dan.get('app/dan'));
    expect(again).toMatchObject({ code: 'AUTH_REQUIRED', definite: true });
    expect((await client({ user: 'dan', password: 'dan-pw-2' }).get('app/dan'))?.text).toBe('3');
    const fresh = client({ user: 'dan', password: 'dan-pw-2' });
    await fresh.get('app/dan');
    await root.userDelete('dan');
    expect((await failure(fresh.get('app/dan'))).code).toBe('AUTH_REQUIRED');
    expect((await failure(client({ user: 'dan', password: 'dan-pw-2' }).get('app/dan'))).code).toBe('AUTH_FAILED');
  });

  it('writes racing the revocation of their role: none applies after the revocation, every later one is refused', async () => {
    const WRITERS = 64;
    const root = client(ROOT);
    await root.userAdd('racer', 'racer-pw');
    await root.userGrantRole('racer', 'app');
    const racers = Array.from({ length: 4 }, () => client({ user: 'racer', password: 'racer-pw' }));
    // 64 writers on 4 connections, each writing until it is refused: some reach the leader while
    // the revocation commits, checked at the gate before it applied and logged after it.
    const acknowledged: number[] = [];
    const refusals: KeelError[] = [];
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; ; i++) {
        try {
          acknowledged.push((await racers[w % racers.length]!.put(`app/racer-${w}`, String(i))).revision);
          if (acknowledged.length === 2 * WRITERS) started();
        } catch (err) {
          if (!(err instanceof KeelError) || err.code !== 'PERMISSION_DENIED') throw err;
          refusals.push(err);
          return;
        }
      }
    });
    await running;
    const { revision } = await root.userRevokeRole('racer', 'app');
    await Promise.all(writers);
    expect(refusals).toHaveLength(WRITERS);
    for (const r of refusals) expect(r.definite).toBe(true);
    expect(acknowledged.filter((r) => r > revision)).toEqual([]);
    // What is stored agrees: every key erin wrote was last written before the revocation.
    for (let w = 0; w < 16; w++) {
      const kv = await root.get(`app/erin-${w}`);
      if (kv !== null) expect(kv.revision).toBeLessThan(revision);
    }
  });

  it("authenticates a client by its certificate's common name", async () => {
    const cert = issueCertificate(clusterCa(cluster.tls!), { commonName: 'alice' });
    const byCert = client(undefined, { cert });
    await byCert.put('app/by-cert', 'alice');
    await denied(byCert.get('secret/plans'));
    const stranger = issueCertificate(clusterCa(cluster.tls!), { commonName: 'stranger' });
    const required = await failure(client(undefined, { cert: stranger }).get('app/by-cert'));
    expect(required.code).toBe('AUTH_REQUIRED');
    expect(required.message).toContain('stranger');
    // A password authentication takes precedence over the certificate.
    await denied(client(BOB, { cert }).put('app/by-cert', 'bob'));
  });

  it('the auth state survives a restart of every node', async () => {
    for (const n of cluster.nodes) await n.kill();
    for (const n of cluster.nodes) await n.start();
    await cluster.waitForLeader();
    expect((await failure(client().get('public'))).code).toBe('AUTH_REQUIRED');
    expect((await client(ALICE).get('app/by-cert'))?.text).toBe('alice');
    await denied(client(BOB).put('app/one', 'x'));
  });

  it('reaches a node that was down through a snapshot: users and roles made meanwhile work there', async () => {
    const { id: leader } = await cluster.waitForLeader();
    const lagger = cluster.nodes.find((n) => n.id !== leader)!.id;
    await cluster.node(lagger).kill();
    const root = client(ROOT);
    await root.userAdd('erin', 'erin-pw');
    await root.roleAdd('logs');
    await root.roleGrant('logs', 'readwrite', { prefix: 'logs/' });
    await root.userGrantRole('erin', 'logs');
    await root.userRevokeRole('bob', 'reader');
    const alice = client(ALICE);
    // Past a snapshot (every 300 entries), so the lagger cannot catch up from the log.
    await Promise.all(Array.from({ length: 700 }, (_, i) => alice.put(`app/fill-${i}`, 'x')));
    await cluster.node(leader).waitForLog((e) => e.event === 'snapshot.created');
    const commit = (await root.status()).find((s) => s.ok && s.status.role === 'leader')!;
    expect(commit.ok).toBe(true);
    const proc = await cluster.node(lagger).start();
    await proc.waitForLog((e) => e.event === 'snapshot.installed');
    const only = [cluster.node(lagger).clientAddress];
    // authenticate runs on the node it reaches: erin exists there only through the snapshot.
    const erin = client({ user: 'erin', password: 'erin-pw' }, { endpoints: only });
    expect((await erin.scan({ prefix: 'logs/' }, { consistency: 'serializable' })).entries).toEqual([]);
    await denied(erin.get('app/one', { consistency: 'serializable' }));
    await denied(client(BOB, { endpoints: only }).get('app/one', { consistency: 'serializable' }));
  });
});
