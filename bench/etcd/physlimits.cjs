#!/usr/bin/env node
// Physical limits of this machine that bound any replicated store:
//   1. durable-write latency: write 4 KiB + fsync (and fdatasync) in a loop
//      on a file under the OS temp dir, single writer and N parallel writers
//      (3 Raft members on one disk each fsync their own log).
//   2. loopback TCP round trip: ping-pong of small messages between two
//      processes over 127.0.0.1 (TCP_NODELAY), one message in flight.
// Usage: node physlimits.cjs [--iters 2000] [--writers 3] [--msgs 20000] [--size 64]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { fork } = require('child_process');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function summary(latNs, wallNs) {
  const s = Float64Array.from(latNs).sort();
  return {
    n: s.length,
    opsPerSec: Math.round(s.length / (wallNs / 1e9)),
    p50us: +(pct(s, 50) / 1e3).toFixed(1),
    p99us: +(pct(s, 99) / 1e3).toFixed(1),
    maxus: +(s[s.length - 1] / 1e3).toFixed(1),
  };
}

// ---- fsync loop (runs in this process or in a forked writer) ----
// mode: 'fsync' | 'fdatasync'  appending: each write grows the file
//       'prealloc'             file zero-filled and synced first, then
//                              overwritten in place with fdatasync, like a
//                              preallocated WAL segment
function fsyncLoop(dir, iters, mode) {
  const file = path.join(dir, `f-${process.pid}-${mode}`);
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(4096, 0x61);
  const sync = mode === 'fsync' ? fs.fsyncSync : fs.fdatasyncSync;
  let pos = 0;
  if (mode === 'prealloc') {
    const zero = Buffer.alloc(1 << 20);
    const mb = Math.ceil(((iters + 20) * 4096) / zero.length);
    for (let i = 0; i < mb; i++) fs.writeSync(fd, zero, 0, zero.length, i * zero.length);
    fs.fsyncSync(fd);
  }
  const write = () => { pos += fs.writeSync(fd, buf, 0, buf.length, pos); };
  for (let i = 0; i < 20; i++) { write(); sync(fd); } // warm-up
  const lat = new Array(iters);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) {
    const a = process.hrtime.bigint();
    write();
    sync(fd);
    lat[i] = Number(process.hrtime.bigint() - a);
  }
  const wall = Number(process.hrtime.bigint() - t0);
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return summary(lat, wall);
}

if (process.argv[2] === '--child-fsync') {
  const [dir, iters, mode] = process.argv.slice(3);
  process.send(fsyncLoop(dir, Number(iters), mode));
  return;
}
if (process.argv[2] === '--child-echo') {
  const srv = net.createServer((c) => {
    c.setNoDelay(true);
    c.on('data', (d) => c.write(d));
  });
  srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }));
  process.on('message', (m) => { if (m === 'stop') { srv.close(); process.exit(0); } });
  return;
}

async function parallelFsync(dir, iters, writers, mode) {
  const results = await Promise.all(Array.from({ length: writers }, () => new Promise((res, rej) => {
    const c = fork(__filename, ['--child-fsync', dir, String(iters), mode]);
    c.on('message', res);
    c.on('error', rej);
  })));
  return {
    writers,
    totalOpsPerSec: results.reduce((a, r) => a + r.opsPerSec, 0),
    p50us: Math.max(...results.map((r) => r.p50us)),
    p99us: Math.max(...results.map((r) => r.p99us)),
  };
}

function pingPong(msgs, size) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--child-echo']);
    child.on('message', ({ port }) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.setNoDelay(true);
      const msg = Buffer.alloc(size, 0x62);
      const lat = [];
      let got = 0, sentAt = 0n, t0 = 0n, warm = 1000;
      const send = () => { sentAt = process.hrtime.bigint(); sock.write(msg); };
      sock.on('connect', () => { t0 = process.hrtime.bigint(); send(); });
      sock.on('data', (d) => {
        got += d.length;
        if (got < size) return;          // wait for the whole echo
        got -= size;
        const now = process.hrtime.bigint();
        if (warm > 0) { warm--; if (warm === 0) t0 = now; }
        else lat.push(Number(now - sentAt));
        if (lat.length >= msgs) {
          const wall = Number(process.hrtime.bigint() - t0);
          sock.destroy();
          child.send('stop');
          resolve(summary(lat, wall));
          return;
        }
        send();
      });
      sock.on('error', reject);
    });
  });
}

(async () => {
  const iters = arg('iters', 2000);
  const writers = arg('writers', 3);
  const msgs = arg('msgs', 20000);
  const size = arg('size', 64);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'physlimits-'));
  try {
    const out = {
      host: { cpus: os.cpus().length, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version },
      fsync4k: fsyncLoop(dir, iters, 'fsync'),
      fdatasync4k: fsyncLoop(dir, iters, 'fdatasync'),
      fdatasync4kPrealloc: fsyncLoop(dir, iters, 'prealloc'),
      fdatasync4kParallel: await parallelFsync(dir, iters, writers, 'fdatasync'),
      tcpLoopbackPingPong: { msgBytes: size, ...(await pingPong(msgs, size)) },
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
