/**
 * Free TCP ports on 127.0.0.1 for the servers a test starts, shared by every package's tests.
 *
 * Two traps this avoids:
 * - `listen(0)` answers with a port from the kernel's ephemeral range (32768–60999 on Linux),
 *   the same range outgoing connections take their source ports from, so between the probe and
 *   the server's own bind any client socket on the machine may take it. Ports here are drawn at
 *   random from below that range.
 * - Probing one port at a time and releasing it can hand the same port out twice. Every probe
 *   stays open until the whole set is chosen, so the ports returned are distinct.
 * A port can still be taken by another process between the probe and the bind; harnesses that
 * start servers treat EADDRINUSE as "choose again", never as a test failure.
 */
import { createServer, type Server } from 'node:net';

const RANGE_LOW = 20_000;
const RANGE_HIGH = 32_000; // below the Linux ephemeral range

function probe(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

async function closeAll(servers: readonly Server[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
}

function randomPort(span = 0): number {
  return RANGE_LOW + Math.floor(Math.random() * (RANGE_HIGH - RANGE_LOW - span));
}

/** `count` distinct ports that were free a moment ago. */
export async function freePorts(count: number, exclude: Iterable<number> = []): Promise<number[]> {
  const excluded = new Set(exclude);
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > 1000) throw new Error(`freePorts: could not find ${count} free ports on 127.0.0.1`);
      const port = randomPort();
      if (excluded.has(port) || ports.includes(port)) continue;
      const server = await probe(port);
      if (server === undefined) continue;
      held.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await closeAll(held);
  }
}

/** One port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** A base port such that `base + offset` is free for every offset (e.g. the cluster script's layout). */
export async function freeBasePort(offsets: readonly number[]): Promise<number> {
  const span = Math.max(...offsets);
  for (let tries = 0; tries < 200; tries++) {
    const base = randomPort(span);
    const held: Server[] = [];
    try {
      let ok = true;
      for (const offset of offsets) {
        const server = await probe(base + offset);
        if (server === undefined) {
          ok = false;
          break;
        }
        held.push(server);
      }
      if (ok) return base;
    } finally {
      await closeAll(held);
    }
  }
  throw new Error(`freeBasePort: no free layout ${offsets.join(',')} on 127.0.0.1`);
}

/** The ports of `ports` that something is listening on now (e.g. another cluster). */
export async function portsInUse(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    const server = await probe(port);
    if (server === undefined) busy.push(port);
    else await closeAll([server]);
  }
  return busy;
}
