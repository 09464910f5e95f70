/**
 * Issue 9, items 5 and 7: how the client treats connections that never reached a server that could
 * act on them. A refused connection (the server's OVERLOADED frame with id -1) is a definite
 * failure, retried no faster than the reconnect backoff allows; an endpoint that is not a Keel
 * client port, or that nothing listens on anywhere, fails the operation at once with a hint.
 * Scripted nodes over real TCP (helpers/scripted-server.ts) play the servers.
 */
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WireError } from '@keel/protocol';
import { KeelClient, KeelError } from '@keel/client';
import type { KeelClientOptions } from '@keel/client';
import { freePorts, waitForProgress } from '@keel/test-support';
import { ScriptedServer } from './helpers/scripted-server.js';

const servers: ScriptedServer[] = [];
const clients: KeelClient[] = [];
const closers: Array<() => Promise<void>> = [];

async function server(...args: ConstructorParameters<typeof ScriptedServer>): Promise<ScriptedServer> {
  const s = await new ScriptedServer(...args).listen();
  servers.push(s);
  return s;
}

function client(options: KeelClientOptions): KeelClient {
  const c = new KeelClient(options);
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(closers.splice(0).map((close) => close()));
});

const OVERLOADED: WireError = { code: 'OVERLOADED', message: 'the server has 1024 client connections open; retry later', definite: true };

/**
 * The most connections one client may open to an endpoint that refuses every one during
 * `timeoutMs`: the first, then one per reconnect backoff that fits. The backoff after the n-th
 * refusal is at least half of min(max, base * 2^(n-1)) (full jitter over its upper half).
 */
function dialsAllowed(timeoutMs: number, baseMs: number, maxMs: number): number {
  let dials = 1;
  let elapsedMs = 0;
  for (let n = 1; ; n++) {
    elapsedMs += Math.min(maxMs, baseMs * 2 ** (n - 1)) / 2;
    if (elapsedMs > timeoutMs) return dials;
    dials++;
  }
}

describe('connections refused by the server (item 5)', () => {
  it('a write refused with the connection-level OVERLOADED frame fails definitely, in the same session', async () => {
    const full = await server(
      () => {},
      (conn) => conn.refuse(OVERLOADED),
    );
    const c = client({ endpoints: [full.address], timeoutMs: 600 });
    const clientId = c.clientId;
    const error = await c.put('k', 'v').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ definite: true });
    expect((error as KeelError).code).toMatch(/^(OVERLOADED|UNAVAILABLE)$/);
    expect((error as KeelError).message).toContain('client connections open');
    expect(full.requests).toHaveLength(0); // the server never read a request
    expect(c.clientId).toBe(clientId); // a definite failure does not retire the write session
  });

  it('refused connections are redialled no faster than the reconnect backoff, however many clients retry', async () => {
    const full = await server(
      () => {},
      (conn) => conn.refuse(OVERLOADED),
    );
    const clientCount = 40;
    const timeoutMs = 1500;
    const tuning = { reconnectBackoffBaseMs: 100, reconnectBackoffMaxMs: 2000 };
    const all = Array.from({ length: clientCount }, () => client({ endpoints: [full.address], timeoutMs, ...tuning }));
    const errors = await Promise.all(all.map((c, i) => c.put(`k${i}`, 'v').catch((e: unknown) => e)));
    // Every put fails, refused. A put whose last dial came close to its deadline may reach the
    // deadline before the refusal arrives (on a loaded machine, often): its request was sent on an
    // accepted connection, so as far as the client knows it may apply (TIMEOUT, not definite).
    // How many end so depends on scheduling; that they end so is right.
    for (const error of errors) {
      expect(error).toBeInstanceOf(KeelError);
      const e = error as KeelError;
      if (e.code === 'TIMEOUT') continue;
      expect(e, e.message).toMatchObject({ definite: true });
      expect(e.code, e.message).toMatch(/^(OVERLOADED|UNAVAILABLE)$/);
      expect(e.message).toContain('client connections open');
    }
    // Every client dialled at once; on a starved event loop the deadlines may pass before the
    // server's accept runs, so the count of connections it saw can lag behind the kernel's.
    await waitForProgress(() => full.connections >= clientCount, () => full.connections, 'a connection from every client');
    const perClient = dialsAllowed(timeoutMs, tuning.reconnectBackoffBaseMs, tuning.reconnectBackoffMaxMs);
    // Each client dials at most `perClient` times: a bound on the count, whatever the timing.
    expect(full.connections).toBeLessThanOrEqual(clientCount * perClient);
  });
});

describe('endpoints that cannot serve any request (item 7)', () => {
  it('an error frame with id -1 that another attempt cannot fix (a peer port) fails at once with its message', async () => {
    const peerPort = await server(
      () => {},
      (conn) =>
        conn.refuse({
          code: 'INVALID_ARGUMENT',
          message: 'this is the peer port of node 1; its client port is 127.0.0.1:7001',
          definite: true,
        }),
    );
    const c = client({ endpoints: [peerPort.address], timeoutMs: 30_000 });
    const error = await c.put('k', 'v').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', definite: true });
    expect((error as KeelError).message).toContain('its client port is 127.0.0.1:7001');
    expect(peerPort.connections).toBe(1); // not retried
  });

  it('a service that does not speak the client protocol fails at once, naming the endpoint', async () => {
    const foreign: Server = createServer((socket) => {
      socket.on('error', () => {});
      socket.resume(); // reads (and ignores) what the client sends, so it sees the client close
      socket.end('SSH-2.0-OpenSSH_9.6\r\n');
    });
    await new Promise<void>((resolve) => foreign.listen({ host: '127.0.0.1', port: 0 }, resolve));
    closers.push(() => new Promise((resolve) => foreign.close(() => resolve())));
    let connections = 0;
    foreign.on('connection', () => connections++);
    const address = `127.0.0.1:${(foreign.address() as { port: number }).port}`;
    const c = client({ endpoints: [address], timeoutMs: 30_000 });
    const error = await c.get('k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', definite: true });
    expect((error as KeelError).message).toContain(address);
    expect((error as KeelError).message).toContain('Keel client port');
    expect(connections).toBe(1);
  });

  it('when nothing listens at any endpoint, a fresh client fails at once with a hint instead of retrying until the deadline', async () => {
    const ports = await freePorts(3);
    const endpoints = ports.map((p) => `127.0.0.1:${p}`);
    const c = client({ endpoints, timeoutMs: 50_000 });
    const error = await c.put('k', 'v').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', definite: true });
    const message = (error as KeelError).message;
    for (const e of endpoints) expect(message).toContain(e);
    expect(message).toContain('ECONNREFUSED');
    expect(message).toMatch(/is the cluster running/i);
    expect(message).not.toContain('gave up after');
  });

  it('a client that has reached the cluster before keeps retrying while every node refuses (a restart)', async () => {
    const s = await server((r, conn) => conn.reply({ id: r.id, ok: true, result: { kv: null, revision: 1 } }));
    const c = client({ endpoints: [s.address], timeoutMs: 600 });
    expect(await c.get('k')).toBeNull();
    await s.close();
    servers.length = 0;
    const error = await c.get('k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', definite: true });
    expect((error as KeelError).message).toContain('gave up after');
  });
});
