#!/usr/bin/env node
/**
 * Refusal check: many concurrent clients against one client port that caps its connections (the
 * real `ClientPortServer` of keel-server, in this process, with a trivial handler). Every client
 * puts one key with its own `KeelClient` and keeps its connection, so the clients beyond the cap
 * are refused until their deadline. Prints how the puts ended and how many connections the
 * server refused: the client's reconnect backoff is what keeps that number bounded. Not a
 * benchmark suite — numbers to watch. Requires a build (`npx tsc -b`).
 *
 *   node scripts/refusal-check.mjs [--clients 2000] [--max-connections 1024] [--timeout 5000]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { ClientPortServer } = await import(join(ROOT, 'packages/kv-server/dist/index.js'));
const { KeelClient } = await import(join(ROOT, 'packages/client/dist/index.js'));

const { values: opt } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    'max-connections': { type: 'string', default: '1024' },
    timeout: { type: 'string', default: '5000' },
  },
});
const clientCount = Number(opt.clients);
const maxConnections = Number(opt['max-connections']);
const timeoutMs = Number(opt.timeout);

const quiet = { log() {} };
let revision = 0;
const server = new ClientPortServer({
  host: '127.0.0.1',
  port: 0,
  logger: quiet,
  maxConnections,
  handle: async (request) => {
    if (request.op !== 'put') throw new Error(`unexpected ${request.op}`);
    return { revision: ++revision };
  },
});
const { port } = await server.listen();
const endpoint = `127.0.0.1:${port}`;

const clients = Array.from({ length: clientCount }, () => new KeelClient({ endpoints: [endpoint], timeoutMs }));
const started = performance.now();
const outcomes = await Promise.all(
  clients.map((c, i) =>
    c.put(`key-${i}`, 'v').then(
      () => 'ok',
      (error) => `${error.code} definite=${error.definite}`,
    ),
  ),
);
const elapsedMs = performance.now() - started;
const refused = server.refusedConnectionCount;
await Promise.all(clients.map((c) => c.close()));
await server.close();

const counts = new Map();
for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
const failed = outcomes.filter((o) => o !== 'ok').length;
console.log(
  JSON.stringify({
    clients: clientCount,
    maxConnections,
    timeoutMs,
    elapsedMs: Math.round(elapsedMs),
    outcomes: Object.fromEntries(counts),
    refusedConnections: refused,
    refusedPerFailedClient: failed === 0 ? 0 : Number((refused / failed).toFixed(2)),
  }),
);
