#!/usr/bin/env node
/**
 * Quick load check: N concurrent pipelined puts against a Keel cluster over the client protocol.
 * Prints ops/s and latency percentiles. Not a benchmark suite — a number to watch while working.
 *
 *   node scripts/load-check.mjs --spawn                  start a fresh 3-node cluster in a temp dir, load it, stop it
 *   node scripts/load-check.mjs --endpoints 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
 *   options: --concurrency 64 --count 30000 --value-bytes 256 --keys 10000 --connections 4 --warmup 2000
 *            --gets (linearizable gets instead of puts)   -- <args for every keel-server, with --spawn>
 *
 * Closed loop: each of `concurrency` workers sends its next request when the previous one is
 * answered; requests are spread over `connections` sockets to the leader, frames written once
 * per event-loop turn. Requires a build (`npx tsc -b`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { FrameDecoder, encodeFrame } = await import(join(ROOT, 'packages/protocol/dist/index.js'));

const { values: opt, positionals } = parseArgs({
  options: {
    endpoints: { type: 'string' },
    spawn: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '64' },
    count: { type: 'string', default: '30000' },
    warmup: { type: 'string', default: '2000' },
    'value-bytes': { type: 'string', default: '256' },
    keys: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '4' },
    gets: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const concurrency = Number(opt.concurrency);
const count = Number(opt.count);
const warmup = Number(opt.warmup);
const valueBytes = Number(opt['value-bytes']);
const keySpace = Number(opt.keys);
const connections = Math.max(1, Math.min(Number(opt.connections), concurrency));

/** One pipelined connection: request(body) -> Promise<response>; one socket write per turn. */
class Conn {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    this.out = [];
    this.flushing = false;
    const decoder = new FrameDecoder({ copyBuffers: false });
    socket.setNoDelay(true);
    socket.on('data', (chunk) =>
      decoder.push(chunk, (r) => {
        const w = this.pending.get(r.id);
        if (w) {
          this.pending.delete(r.id);
          w(r);
        }
      }),
    );
    socket.on('close', () => {
      for (const w of this.pending.values()) w({ ok: false, error: { code: 'CONNECTION_LOST' } });
      this.pending.clear();
    });
  }
  static open(address) {
    const [host, port] = address.split(':');
    return new Promise((resolve, reject) => {
      const s = connect({ host, port: Number(port) }, () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  request(body) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.out.push(encodeFrame({ ...body, id }));
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => {
          this.flushing = false;
          this.socket.write(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out));
          this.out = [];
        });
      }
    });
  }
  close() {
    this.socket.destroy();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function findLeader(endpoints, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const ep of endpoints) {
      try {
        const c = await Conn.open(ep);
        const r = await c.request({ op: 'status' });
        c.close();
        if (r.ok && r.result.role === 'leader') return ep;
        if (r.ok && r.result.leader !== 0) {
          // Ask the leader itself next round; its address is in the membership.
        }
      } catch {
        // not up yet
      }
    }
    await sleep(100);
  }
  throw new Error('no leader found');
}

/** A fresh 3-node cluster in a temp dir, on the server's default tuning, through the test harness. */
async function spawnCluster(serverArgs) {
  const { Cluster } = await import(join(ROOT, 'test-support/dist/index.js'));
  const cluster = await Cluster.start({
    nodes: 3,
    tuning: [],
    serverArgs,
    logLevel: 'warn',
    onLine: (id, line) => process.stderr.write(`n${id} ${line}\n`),
  });
  return { endpoints: cluster.endpoints, stop: () => cluster.destroy(), pids: cluster.nodes.map((n) => n.pid) };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux only; NaN elsewhere). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  let cluster;
  let endpoints;
  if (opt.spawn) {
    cluster = await spawnCluster(positionals);
    endpoints = cluster.endpoints;
  } else {
    endpoints = (opt.endpoints ?? '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003').split(',');
  }
  try {
    const leader = await findLeader(endpoints);
    const conns = await Promise.all(Array.from({ length: connections }, () => Conn.open(leader)));
    const clientId = randomBytes(8).toString('hex');
    const value = randomBytes(valueBytes);
    let seq = 0;
    const outstanding = new Set();
    let low = 1;
    const op = (i) => {
      const key = Buffer.from(`load-${i % keySpace}`);
      const conn = conns[i % conns.length];
      if (opt.gets) return conn.request({ op: 'get', key, consistency: 'linearizable' });
      const s = ++seq;
      outstanding.add(s);
      return conn.request({ op: 'put', key, value, session: { clientId, seq: s, ackedBelow: low } }).then((r) => {
        outstanding.delete(s);
        while (low <= seq && !outstanding.has(low)) low++;
        return r;
      });
    };
    const total = warmup + count;
    const latencies = [];
    const errors = new Map();
    let next = 0;
    let started = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        if (i === warmup) started = performance.now();
        const t0 = performance.now();
        const r = await op(i);
        const dt = performance.now() - t0;
        if (!r.ok) errors.set(r.error.code, (errors.get(r.error.code) ?? 0) + 1);
        else if (i >= warmup) latencies.push(dt);
      }
    };
    if (warmup === 0) started = performance.now();
    const pids = cluster?.pids ?? [];
    let cpuBefore = pids.map(cpuSeconds);
    const selfBefore = process.cpuUsage();
    const warmed = setInterval(() => {
      if (next >= warmup) {
        cpuBefore = pids.map(cpuSeconds);
        clearInterval(warmed);
      }
    }, 5);
    await Promise.all(Array.from({ length: concurrency }, worker));
    clearInterval(warmed);
    const cpuAfter = pids.map(cpuSeconds);
    const self = process.cpuUsage(selfBefore);
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const result = {
      op: opt.gets ? 'get(linearizable)' : 'put',
      concurrency,
      connections,
      valueBytes,
      ops: latencies.length,
      opsPerSec: Math.round(latencies.length / elapsed),
      p50Ms: +percentile(latencies, 50).toFixed(2),
      p99Ms: +percentile(latencies, 99).toFixed(2),
      maxMs: +(latencies.at(-1) ?? NaN).toFixed(2),
      errors: Object.fromEntries(errors),
      loadAvg1m: +(await import('node:os')).loadavg()[0].toFixed(2),
    };
    if (pids.length > 0) {
      const serverCpu = cpuAfter.reduce((a, b, i) => a + (b - cpuBefore[i]), 0);
      result.serverCpuUsPerOp = Math.round((serverCpu * 1e6) / latencies.length);
      result.serverCpuPct = Math.round((100 * serverCpu) / elapsed);
    }
    result.generatorCpuUsPerOp = Math.round((self.user + self.system) / (warmup + count));
    console.log(JSON.stringify(result));
    for (const c of conns) c.close();
  } finally {
    await cluster?.stop();
  }
}

await main();
