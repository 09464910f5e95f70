/**
 * The client's protocol behaviour against scripted nodes over real TCP: pipelining and matching
 * by id, redirects, write identity across failover, and definite vs indeterminate failures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '@keel/protocol';
import type { ClientRequest } from '@keel/protocol';
import { KeelClient, KeelError } from '@keel/client';
import type { KvEntry, PutResult } from '@keel/client';
import { ScriptedServer } from './helpers/scripted-server.js';

const servers: ScriptedServer[] = [];
const clients: KeelClient[] = [];

async function server(script: ConstructorParameters<typeof ScriptedServer>[0]): Promise<ScriptedServer> {
  const s = await new ScriptedServer(script).listen();
  servers.push(s);
  return s;
}

function client(endpoints: string[], timeoutMs = 5000, stallTimeoutMs = 1500): KeelClient {
  const c = new KeelClient({ endpoints, timeoutMs, stallTimeoutMs });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const kv = (key: Uint8Array, revision: number) => ({ key, value: key, createRevision: revision, modRevision: revision, version: 1 });
const sessionOf = (r: ClientRequest) => ('session' in r ? r.session : undefined);
const STATUS = { id: 1, role: 'follower', term: 1, leader: 1, commit: 0, applied: 0, lastIndex: 0, clientAddress: 'x:1' } as const;

describe('KeelClient protocol', () => {
  it('pipelines concurrent requests over one connection and matches out-of-order answers by id', async () => {
    const held: ClientRequest[] = [];
    const s = await server((request, conn) => {
      held.push(request);
      if (held.length < 50) return;
      // Answer all 50 in reverse order.
      for (const r of held.reverse()) {
        if (r.op !== 'get') throw new Error('unexpected op');
        conn.reply({ id: r.id, ok: true, result: { kv: kv(r.key, r.id), revision: 1 } });
      }
    });
    const c = client([s.address]);
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
    const entries = await Promise.all(keys.map((k) => c.get(k)));
    expect(entries.map((e) => e?.text)).toEqual(keys);
    expect(s.connections).toBe(1);
    expect(new Set(s.requests.map((r) => r.id)).size).toBe(50);
  });

  it('keeps at most LIMITS.inflightPerConnectionMax requests in flight; the rest wait in the client', async () => {
    let outstanding = 0;
    let most = 0;
    const s = await server((r, conn) => {
      outstanding++;
      most = Math.max(most, outstanding);
      setTimeout(() => {
        outstanding--;
        conn.reply({ id: r.id, ok: true, result: { kv: null, revision: 1 } });
      }, 1);
    });
    const c = client([s.address], 30_000, 10_000);
    const n = LIMITS.inflightPerConnectionMax + 1000;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.get(`k${i}`)));
    expect(results.every((r) => r === null)).toBe(true);
    expect(s.requests).toHaveLength(n); // nothing was refused and retried
    expect(most).toBeLessThanOrEqual(LIMITS.inflightPerConnectionMax);
    expect(most).toBeGreaterThan(1); // requests really were pipelined
  });

  it('sends each request with exactly its own fields, and answers each with exactly its own result', async () => {
    // The request and response paths share encoders, decoders and empty parts between requests:
    // nothing of one request (prevKv, a lease, a session) or of one answer may show in the next.
    const s = await server((r, conn) => {
      if (r.op === 'get') {
        conn.reply({ id: r.id, ok: true, result: { kv: r.key[0] === 0x61 ? kv(r.key, r.id) : null, revision: r.id } });
      } else if (r.op === 'put') {
        conn.reply({ id: r.id, ok: true, result: { revision: r.id, ...(r.prevKv ? { prevKv: r.id % 2 === 0 ? kv(r.key, 1) : null } : {}) } });
      }
    });
    const c = client([s.address]);
    const results: (PutResult | KvEntry | null)[] = [];
    for (let round = 0; round < 3; round++) {
      // Concurrently (one batch on the wire) and one after another (separate batches).
      results.push(
        ...(await Promise.all([
          c.put('a1', 'x', { prevKv: true, lease: 12 }),
          c.put('a2', 'y'),
          c.get('a3'),
          c.get('b4', { consistency: 'serializable' }),
        ])),
      );
      results.push(await c.put('a5', 'z', { prevKv: true }), await c.put('a6', 'w'), await c.get('b7'));
    }
    // What the server received, without ids, with bytes as text and sessions as their seq.
    const seen = s.requests.map((r) => {
      const { id: _id, ...fields } = r;
      const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
      const session = sessionOf(r);
      return {
        ...fields,
        ...('key' in fields && fields.key !== undefined ? { key: text(fields.key) } : {}),
        ...('value' in fields && fields.value !== undefined ? { value: text(fields.value) } : {}),
        ...(session ? { session: session.seq } : {}),
      };
    });
    const expected = [0, 1, 2].flatMap((round) => [
      { op: 'put', key: 'a1', value: 'x', prevKv: true, lease: 12, session: round * 4 + 1 },
      { op: 'put', key: 'a2', value: 'y', session: round * 4 + 2 },
      { op: 'get', key: 'a3', consistency: 'linearizable' },
      { op: 'get', key: 'b4', consistency: 'serializable' },
      { op: 'put', key: 'a5', value: 'z', prevKv: true, session: round * 4 + 3 },
      { op: 'put', key: 'a6', value: 'w', session: round * 4 + 4 },
      { op: 'get', key: 'b7', consistency: 'linearizable' },
    ]);
    expect(seen).toEqual(expected);
    // Each result is its own request's (the server answers with revision = the request's id): a
    // put's prevKv only where asked, an entry only where the key exists.
    const described = results.map((r) =>
      r === null ? null : 'keyText' in r ? `${r.keyText}@${r.revision}` : `${Object.keys(r).sort().join('+')}@${r.revision}`,
    );
    const expectedResults = s.requests.map((r) =>
      r.op === 'put' ? `${r.prevKv ? 'prevKv+' : ''}revision@${r.id}` : r.op === 'get' && r.key[0] === 0x61 ? `${Buffer.from(r.key).toString()}@${r.id}` : null,
    );
    expect(described).toEqual(expectedResults);
  });

  it('follows a NOT_LEADER hint and then talks to the leader directly', async () => {
    const leader = await server((r, conn) => conn.reply({ id: r.id, ok: true, result: { revision: 7 } }));
    const follower = await server((r, conn) =>
      conn.reply({
        id: r.id,
        ok: false,
        error: { code: 'NOT_LEADER', message: 'not the leader', definite: true, leaderId: 2, leaderAddress: leader.address },
      }),
    );
    const c = client([follower.address]);
    expect(await c.put('a', '1')).toEqual({ revision: 7 });
    expect(await c.put('b', '2')).toEqual({ revision: 7 });
    expect(follower.requests).toHaveLength(1);
    expect(leader.requests.map((r) => r.op)).toEqual(['put', 'put']);
  });

  it('retries a write on another node with the same client id and seq after a crash', async () => {
    // The leader answers the client's search for it, then "dies" with the write received.
    const crashing = await server((r, conn) =>
      r.op === 'status' ? conn.reply({ id: r.id, ok: true, result: { ...STATUS, role: 'leader' } }) : conn.destroy(),
    );
    const healthy = await server((r, conn) =>
      conn.reply({ id: r.id, ok: true, result: r.op === 'status' ? STATUS : { revision: 3 } }),
    );
    const c = client([crashing.address, healthy.address]);
    expect(await c.put('k', 'v')).toEqual({ revision: 3 });
    const first = sessionOf(crashing.requests.find((r) => r.op === 'put')!);
    const retry = sessionOf(healthy.requests.find((r) => r.op === 'put')!);
    expect(first).toBeDefined();
    expect(retry).toMatchObject({ clientId: first!.clientId, seq: first!.seq });
    // The next write is a new seq of the same session (the first one was answered).
    await c.put('k2', 'v');
    expect(sessionOf(healthy.requests.filter((r) => r.op === 'put')[1]!)).toMatchObject({ clientId: first!.clientId, seq: first!.seq + 1, ackedBelow: first!.seq + 1 });
  });

  it('a write sent and never answered fails as indeterminate; a read as a definite TIMEOUT', async () => {
    const silent = await server(() => {});
    const c = client([silent.address], 300, 100);
    const clientIdBefore = c.clientId;
    const write = await c.put('k', 'v').catch((e: unknown) => e);
    expect(write).toBeInstanceOf(KeelError);
    expect(write).toMatchObject({ code: 'TIMEOUT', definite: false });
    // Every attempt carried the same identity.
    const sessions = silent.requests.filter((r) => r.op === 'put').map(sessionOf);
    expect(sessions.length).toBeGreaterThan(0);
    expect(new Set(sessions.map((s) => `${s!.clientId}/${s!.seq}`)).size).toBe(1);
    // After an indeterminate write the client moves to a fresh session.
    expect(c.clientId).not.toBe(clientIdBefore);
    const read = await c.get('k').catch((e: unknown) => e);
    expect(read).toMatchObject({ code: 'TIMEOUT', definite: true });
  });

  it('never abandons a busy node that keeps answering, however long a queued request waits', async () => {
    // The node answers one request every 10 ms: the last of 150 waits ~1.5 s, three times the
    // stall timeout, yet the node is making progress all along.
    const queue: { id: number; reply: () => void }[] = [];
    const busy = await server((r, conn) =>
      queue.push({ id: r.id, reply: () => conn.reply({ id: r.id, ok: true, result: { revision: r.id } }) }),
    );
    const drain = setInterval(() => queue.shift()?.reply(), 10);
    try {
      const c = client([busy.address], 10_000, 500);
      const results = await Promise.all(Array.from({ length: 150 }, (_, i) => c.put(`k${i}`, 'v')));
      expect(results).toHaveLength(150);
      expect(busy.requests).toHaveLength(150); // no attempt was abandoned and resent
      expect(busy.connections).toBe(1);
    } finally {
      clearInterval(drain);
    }
  });

  it('leaves a leader that answers local reads but completes no write (cut off from its quorum)', async () => {
    const isolated = await server((r, conn) => {
      if (r.op === 'get') conn.reply({ id: r.id, ok: true, result: { kv: null, revision: 1 } });
      // Its status shows a commit index that never moves; puts are never answered.
      if (r.op === 'status') conn.reply({ id: r.id, ok: true, result: { ...STATUS, role: 'leader', commit: 7 } });
    });
    const healthy = await server((r, conn) =>
      conn.reply({ id: r.id, ok: true, result: r.op === 'get' ? { kv: null, revision: 9 } : { revision: 9 } }),
    );
    const c = client([isolated.address, healthy.address], 5000, 300);
    await c.get('warm-up'); // a linearizable read answered: the client now takes `isolated` for the leader
    let reading = true;
    const reads = (async () => {
      while (reading) {
        await c.get('k', { consistency: 'serializable' });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      expect(await c.put('k', 'v')).toEqual({ revision: 9 });
    } finally {
      reading = false;
      await reads;
    }
    const first = sessionOf(isolated.requests.find((r) => r.op === 'put')!);
    expect(sessionOf(healthy.requests.find((r) => r.op === 'put')!)).toEqual(first);
    expect(isolated.requests.filter((r) => r.op === 'status').length).toBeGreaterThanOrEqual(2); // it was probed
  });

  it('keeps waiting on a leader whose answers lag but whose commit index advances', async () => {
    // Quorum answers arrive only after 3x the stall timeout, but every status probe shows progress.
    let commit = 0;
    const slow = await server((r, conn) => {
      if (r.op === 'status') conn.reply({ id: r.id, ok: true, result: { ...STATUS, role: 'leader', commit: ++commit } });
      if (r.op === 'put') setTimeout(() => conn.reply({ id: r.id, ok: true, result: { revision: 1 } }), 600);
    });
    const c = client([slow.address], 5000, 200);
    expect(await c.put('k', 'v')).toEqual({ revision: 1 });
    expect(slow.requests.filter((r) => r.op === 'put')).toHaveLength(1); // never abandoned and resent
    expect(slow.requests.filter((r) => r.op === 'status').length).toBeGreaterThan(0);
  });

  it('waits for a slow membership or leadership change until the deadline, not the stall timeout', async () => {
    const slow = await server((r, conn) => {
      if (r.op === 'leaderTransfer') setTimeout(() => conn.reply({ id: r.id, ok: true, result: { leader: r.to } }), 600);
    });
    const c = client([slow.address], 5000, 200);
    expect(await c.transferLeader(3)).toEqual({ leader: 3 });
    expect(slow.requests).toHaveLength(1);
  });

  it('a node that cannot be reached fails definitely with UNAVAILABLE', async () => {
    const s = await server(() => {});
    const address = s.address;
    await s.close();
    servers.length = 0;
    const c = client([address], 300);
    const error = await c.put('k', 'v').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', definite: true });
  });

  it('server errors keep their code; status reports each endpoint separately', async () => {
    const s = await server((r, conn) => {
      if (r.op === 'status') {
        conn.reply({
          id: r.id,
          ok: true,
          result: { id: 1, role: 'leader', term: 2, leader: 1, commit: 5, applied: 5, lastIndex: 5, clientAddress: 'x:1' },
        });
      } else conn.reply({ id: r.id, ok: false, error: { code: 'INVALID_MEMBERSHIP', message: 'no such node', definite: true } });
    });
    const gone = await server(() => {});
    const goneAddress = gone.address;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const c = client([s.address, goneAddress], 1000, 300);
    await expect(c.memberRemove(9)).rejects.toMatchObject({ code: 'INVALID_MEMBERSHIP', definite: true });
    const statuses = await c.status();
    expect(statuses.map((x) => [x.endpoint, x.ok])).toEqual([
      [s.address, true],
      [goneAddress, false],
    ]);
  });
});
