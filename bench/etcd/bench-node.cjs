#!/usr/bin/env node
// Closed-loop load generator for etcd v3 (gRPC), no dependencies: the
// Node.js twin of bench.go (same flags, same JSON output), to see what etcd
// gives a client that costs what a Node.js client costs. bench.go is the
// anchor's load generator: it needs about half the CPU per request.
//
// Speaks gRPC directly over Node's built-in HTTP/2 client (nghttp2, in C++):
// each request is one HTTP/2 stream POST /etcdserverpb.KV/{Put,Range} with a
// hand-encoded protobuf body. This skips @grpc/grpc-js and protobufjs, so the
// client spends its CPU mostly inside nghttp2 and the kernel, and etcd sees
// exactly what a real gRPC client sends (no JSON gateway in the path).
//
// Usage:
//   node bench-node.cjs [--endpoints URL,URL,..] [--concurrency 16] [--ops 20000]
//                 [--value-size 256] [--keys 10000] [--mix put=1,lget=0,sget=0]
//                 [--conns-per-endpoint 1] [--warmup N] [--prepopulate auto|yes|no]
//                 [--cpu-pids PID,PID,..] [--label text] [--json]
//
//   --concurrency   requests in flight at all times (closed loop: each
//                   completion immediately issues the next request)
//   --ops           measured operations (after --warmup, default ops/10 max 2000)
//   --mix           weights: put = Put, lget = linearizable Range (default
//                   etcd read), sget = serializable Range (local read)
//   --keys          key space; keys are "bench/0000000".."bench/<keys-1>",
//                   picked uniformly at random
//   --prepopulate   write every key once before measuring (auto: when the mix
//                   has reads), so reads hit existing keys
//   --cpu-pids      PIDs whose CPU time (/proc/PID/stat) is reported for the
//                   measured phase, e.g. the etcd members (cluster.sh pids)
//
// Prints a human summary, or one JSON object with --json.
'use strict';
const http2 = require('http2');
const net = require('net');
const fs = require('fs');
const os = require('os');

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = {
    endpoints: 'http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793',
    concurrency: 16,
    ops: 20000,
    'value-size': 256,
    keys: 10000,
    mix: 'put=1',
    'conns-per-endpoint': 1,
    warmup: -1,
    prepopulate: 'auto',
    'cpu-pids': '',
    label: '',
    json: false,
    timeout: 10000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2);
    if (!(k in o)) throw new Error(`unknown option --${k}`);
    if (typeof o[k] === 'boolean') o[k] = true;
    else o[k] = typeof o[k] === 'number' ? Number(argv[++i]) : argv[++i];
  }
  if (o.warmup < 0) o.warmup = Math.min(2000, Math.floor(o.ops / 10));
  const mix = { put: 0, lget: 0, sget: 0 };
  for (const part of o.mix.split(',')) {
    const [name, w] = part.split('=');
    if (!(name in mix)) throw new Error(`unknown op ${name} in --mix (put, lget, sget)`);
    mix[name] = Number(w ?? 1);
  }
  o.mixWeights = mix;
  return o;
}

// ---------------------------------------------------------------- protobuf
function varint(n) {
  const out = [];
  while (n > 127) { out.push((n & 127) | 128); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}
function bytesField(fieldNo, buf) {
  return Buffer.concat([varint((fieldNo << 3) | 2), varint(buf.length), buf]);
}
function grpcFrame(msg) {
  const h = Buffer.alloc(5);
  h.writeUInt8(0, 0); // not compressed
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}
// PutRequest { bytes key = 1; bytes value = 2; }
function putBody(key, value) {
  return grpcFrame(Buffer.concat([bytesField(1, key), bytesField(2, value)]));
}
// RangeRequest { bytes key = 1; ...; bool serializable = 7; }
function rangeBody(key, serializable) {
  const parts = [bytesField(1, key)];
  if (serializable) parts.push(Buffer.from([(7 << 3) | 0, 1]));
  return grpcFrame(Buffer.concat(parts));
}
// RangeResponse { ResponseHeader header = 1; repeated KeyValue kvs = 2;
//                 bool more = 3; int64 count = 4; } -> number of kvs
function rangeKvCount(buf) {
  if (buf.length < 5) return -1;
  let p = 5, n = 0;
  const end = 5 + buf.readUInt32BE(1);
  const rv = () => { let x = 0, s = 1, b; do { b = buf[p++]; x += (b & 127) * s; s *= 128; } while (b & 128); return x; };
  while (p < end) {
    const tag = rv();
    const wt = tag & 7;
    if (wt === 2) { const len = rv(); if (tag >> 3 === 2) n++; p += len; }
    else if (wt === 0) rv();
    else return -1;
  }
  return n;
}

// ---------------------------------------------------------------- cpu
const CLK_TCK = 100; // Linux USER_HZ; /proc/PID/stat times are in these ticks
function procCpuSec(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime + stime
  } catch { return NaN; }
}
// CPU seconds of every process on the machine except `skip` (pid set),
// split into kernel threads (children of kthreadd, pid 2: journal commits,
// softirq work, writeback) and user processes (anything else: other work
// sharing the cores). Processes that start and exit inside the window are
// not seen here; they show up only in the machine-wide total.
function othersCpu(skip) {
  const out = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || skip.has(Number(d))) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const kernel = Number(d) === 2 || Number(f[1]) === 2;
      out.set(d, { kernel, sec: (Number(f[11]) + Number(f[12])) / CLK_TCK });
    } catch { /* exited */ }
  }
  return out;
}
function othersDelta(a, b) {
  let kernel = 0, user = 0;
  for (const [pid, x] of b) {
    const y = a.get(pid);
    if (!y) continue;
    if (x.kernel) kernel += x.sec - y.sec; else user += x.sec - y.sec;
  }
  return { kernel, user };
}
// /proc/stat first line: jiffies over all CPUs (user nice system idle iowait
// irq softirq steal; guest time is already inside user)
function machineCpu() {
  const l = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = l.reduce((a, b) => a + b, 0);
  return { total, busy: total - l[3] - l[4], irq: l[5] + l[6], steal: l[7] };
}

// ---------------------------------------------------------------- client
class Conn {
  constructor(url) {
    this.url = url;
    const u = new URL(url);
    // TCP_NODELAY: without it Nagle holds back small frames (a request's
    // DATA after its HEADERS) until the previous segment is acknowledged
    this.session = http2.connect(url, {
      peerMaxConcurrentStreams: 1 << 20,
      createConnection: () => net.connect({ host: u.hostname, port: Number(u.port), noDelay: true }),
    });
    this.session.on('error', (e) => { this.error = e; });
    this.session.setMaxListeners?.(0);
  }
  // cb(err, responseBuffer)
  call(path, body, timeoutMs, cb) {
    let stream;
    try {
      stream = this.session.request({
        ':method': 'POST', ':path': path,
        'content-type': 'application/grpc', te: 'trailers',
      });
    } catch (e) { cb(e); return; }
    const chunks = [];
    let status = null, done = false;
    const finish = (err) => { if (done) return; done = true; clearTimeout(t); cb(err, err ? null : Buffer.concat(chunks)); };
    const t = setTimeout(() => { stream.close(http2.constants.NGHTTP2_CANCEL); finish(new Error('timeout')); }, timeoutMs);
    stream.on('response', (h) => { if (h['grpc-status'] !== undefined) status = h; });
    stream.on('trailers', (h) => { status = h; });
    stream.on('data', (d) => chunks.push(d));
    stream.on('end', () => {
      if (!status) return finish(new Error('no grpc-status'));
      if (status['grpc-status'] !== '0') return finish(new Error(`grpc-status ${status['grpc-status']}: ${status['grpc-message']}`));
      finish(null);
    });
    stream.on('error', finish);
    stream.end(body);
  }
  close() { this.session.close(); }
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const endpoints = o.endpoints.split(',').filter(Boolean);
  const conns = [];
  for (let r = 0; r < o['conns-per-endpoint']; r++) for (const ep of endpoints) conns.push(new Conn(ep));
  const keyBufs = Array.from({ length: o.keys }, (_, i) => Buffer.from('bench/' + String(i).padStart(7, '0')));
  const value = Buffer.alloc(o['value-size'], 0x76);
  // pre-encode request bodies per key (cheap: keys x 3 small buffers)
  const putBodies = keyBufs.map((k) => putBody(k, value));
  const lgetBodies = keyBufs.map((k) => rangeBody(k, false));
  const sgetBodies = keyBufs.map((k) => rangeBody(k, true));
  const W = o.mixWeights, Wsum = W.put + W.lget + W.sget;
  if (!(Wsum > 0)) throw new Error('empty --mix');
  const OPS = ['put', 'lget', 'sget'];
  const pickOp = () => {
    let r = Math.random() * Wsum;
    if ((r -= W.put) < 0) return 0;
    if ((r -= W.lget) < 0) return 1;
    return 2;
  };
  const request = (op, k, conn, cb) => {
    if (op === 0) conn.call('/etcdserverpb.KV/Put', putBodies[k], o.timeout, cb);
    else conn.call('/etcdserverpb.KV/Range', op === 1 ? lgetBodies[k] : sgetBodies[k], o.timeout, (e, buf) => {
      if (!e && rangeKvCount(buf) < 1 && prepopulated) e = new Error('range returned no key');
      cb(e);
    });
  };

  // closed loop of `concurrency` workers; returns when `total` ops completed
  const errors = {};
  const runPhase = (total, concurrency, opFor, keyFor, lat) => new Promise((resolve) => {
    let issued = 0, completed = 0, next = 0;
    const start = () => {
      if (issued >= total) return;
      const i = issued++;
      const op = opFor(i), k = keyFor(i);
      const conn = conns[next++ % conns.length];
      const t0 = process.hrtime.bigint();
      request(op, k, conn, (err) => {
        if (lat) lat[i] = Number(process.hrtime.bigint() - t0) / 1e3; // microseconds
        if (err) { const m = String(err.message).slice(0, 80); errors[m] = (errors[m] || 0) + 1; }
        if (++completed === total) resolve();
        else start();
      });
    };
    for (let c = 0; c < Math.min(concurrency, total); c++) start();
  });

  let prepopulated = false;
  const wantPre = o.prepopulate === 'yes' || (o.prepopulate === 'auto' && W.lget + W.sget > 0);
  if (wantPre) {
    await runPhase(o.keys, Math.max(o.concurrency, 64), () => 0, (i) => i, null);
    prepopulated = true;
  }
  const rndKey = () => Math.floor(Math.random() * o.keys);
  if (o.warmup > 0) await runPhase(o.warmup, o.concurrency, pickOp, rndKey, null);
  const warmErrors = Object.values(errors).reduce((a, b) => a + b, 0);
  for (const k of Object.keys(errors)) delete errors[k];

  // measured phase
  const pids = o['cpu-pids'].split(',').filter(Boolean).map(Number);
  const lat = new Float64Array(o.ops);
  const opsOf = new Uint8Array(o.ops);
  const skip = new Set([process.pid, ...pids]);
  const oth0 = othersCpu(skip);
  const cpu0 = pids.map(procCpuSec), self0 = process.cpuUsage(), m0 = machineCpu();
  const t0 = process.hrtime.bigint();
  await runPhase(o.ops, o.concurrency, (i) => (opsOf[i] = pickOp()), rndKey, lat);
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = pids.map(procCpuSec), self1 = process.cpuUsage(), m1 = machineCpu();
  const oth = othersDelta(oth0, othersCpu(skip));
  for (const c of conns) c.close();

  const summarize = (arr) => {
    const s = Float64Array.from(arr).sort();
    if (!s.length) return null;
    const r = (x) => +(x / 1000).toFixed(3); // ms
    return { n: s.length, p50ms: r(pct(s, 50)), p90ms: r(pct(s, 90)), p99ms: r(pct(s, 99)), p999ms: r(pct(s, 99.9)), maxms: r(s[s.length - 1]), meanms: r(s.reduce((a, b) => a + b, 0) / s.length) };
  };
  const byOp = {};
  for (let j = 0; j < 3; j++) {
    if (!W[OPS[j]]) continue;
    const a = [];
    for (let i = 0; i < o.ops; i++) if (opsOf[i] === j) a.push(lat[i]);
    byOp[OPS[j]] = summarize(a);
  }
  const selfSec = (self1.user - self0.user + self1.system - self0.system) / 1e6;
  const etcdSec = pids.map((p, i) => cpu1[i] - cpu0[i]);
  const etcdTotal = etcdSec.reduce((a, b) => a + b, 0);
  const cores = os.cpus().length;
  const share = (d) => +((100 * cores * d) / (m1.total - m0.total)).toFixed(1);
  const core = (sec) => +((100 * sec) / wallSec).toFixed(1);
  const errCount = Object.values(errors).reduce((a, b) => a + b, 0);
  const out = {
    label: o.label,
    endpoints: endpoints.length, conns: conns.length,
    concurrency: o.concurrency, ops: o.ops, valueSize: o['value-size'], keys: o.keys, mix: o.mix,
    warmup: o.warmup, prepopulated,
    wallSec: +wallSec.toFixed(3),
    opsPerSec: Math.round(o.ops / wallSec),
    latency: summarize(lat), byOp,
    errors: errCount, errorKinds: errors, warmupErrors: warmErrors,
    cpu: {
      // all in percent of ONE core over the measured wall time (cores*100 = all)
      clientPct: core(selfSec),
      etcdPct: pids.length ? core(etcdTotal) : null,
      etcdPerMemberPct: etcdSec.map(core),
      kernelThreadsPct: core(oth.kernel), // journal commits, writeback, workers
      irqPct: share(m1.irq - m0.irq),     // hard+soft irq (loopback TCP receive work)
      stealPct: share(m1.steal - m0.steal),
      foreignPct: core(oth.user),          // other user processes: unrelated work
      unattributedPct: 0,                 // busy time left over: short-lived processes
      machineBusyPct: share(m1.busy - m0.busy),
      cores,
    },
  };
  const c = out.cpu;
  c.unattributedPct = +(c.machineBusyPct - c.clientPct - (c.etcdPct || 0) - c.kernelThreadsPct - c.irqPct - c.stealPct - c.foreignPct).toFixed(1);
  if (o.json) console.log(JSON.stringify(out));
  else {
    const l = out.latency;
    console.log(`${o.label ? o.label + ': ' : ''}mix=${o.mix} c=${o.concurrency} ops=${o.ops} value=${o['value-size']}B keys=${o.keys} conns=${conns.length}`);
    console.log(`  ${out.opsPerSec} ops/s  p50 ${l.p50ms} ms  p90 ${l.p90ms} ms  p99 ${l.p99ms} ms  p99.9 ${l.p999ms} ms  max ${l.maxms} ms  errors ${errCount}`);
    for (const [k, v] of Object.entries(byOp)) if (Object.keys(byOp).length > 1) console.log(`  ${k}: p50 ${v.p50ms} ms p99 ${v.p99ms} ms (n=${v.n})`);
    console.log(`  cpu (% of one core): client ${c.clientPct}  etcd ${c.etcdPct ?? 'n/a'} ${pids.length ? '(' + c.etcdPerMemberPct.join(' / ') + ')' : ''}  machine ${c.machineBusyPct} of ${cores * 100}`);
    console.log(`  other cpu: kernel threads ${c.kernelThreadsPct}  irq ${c.irqPct}  steal ${c.stealPct}  foreign processes ${c.foreignPct}  unattributed ${c.unattributedPct}`);
    if (errCount) console.log('  error kinds:', errors);
  }
  process.exitCode = errCount ? 1 : 0;
}

main().catch((e) => { console.error(e); process.exit(2); });
