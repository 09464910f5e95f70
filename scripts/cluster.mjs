#!/usr/bin/env node
/**
 * `pnpm cluster`: run a local Keel cluster of keel-server child processes with one command.
 *
 *   pnpm cluster                       3 nodes, client ports 7001-7003, peers 7101-7103, data in ./.keel-data
 *   pnpm cluster --nodes 5 --fresh     5 nodes, wiping the data dir first
 *   pnpm cluster --base-port 8001      client ports 8001..., peer ports 8101...
 *   pnpm cluster -- --tick-ms 20       everything after "--" goes to every keel-server
 *
 * Waits until a leader is elected (asking every node for its status over the client protocol),
 * prints the endpoints and a ready kvctl example, streams the nodes' logs prefixed by node id,
 * and on Ctrl-C / SIGTERM stops every node by PID (SIGTERM, then SIGKILL after a grace period).
 * Data persists across restarts unless --fresh is given.
 *
 * Exit status: 0 after a clean stop; 1 if the cluster could not start (ports in use, a node
 * failed, no leader in time) or a node had to be killed; 2 on a bad command line.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER_BIN = join(ROOT, 'packages/kv-server/bin/keel-server.js');
const CLIENT_DIST = join(ROOT, 'packages/client/dist/index.js');
const HOST = '127.0.0.1';
/** Peer ports are the client ports plus this offset. */
const PEER_PORT_OFFSET = 100;
const NODES_MAX = 9;
/** How long to wait for a leader, in ms. */
const LEADER_WAIT_MS = 30_000;
/** How long a node gets to stop after SIGTERM before SIGKILL, in ms. */
const STOP_GRACE_MS = 10_000;
const LAYOUT_FILE = 'cluster.json';

const USAGE = `Usage: pnpm cluster [options] [-- keel-server options]

Start a local Keel cluster and stream its logs; Ctrl-C stops it.

Options:
  --nodes <n>         number of nodes, 1-${NODES_MAX} (default 3)
  --base-port <port>  client port of node 1; node i listens for clients on base+i-1
                      and for peers on base+${PEER_PORT_OFFSET}+i-1 (default 7001)
  --data-dir <dir>    where the nodes keep their data, one subdirectory per node
                      (default ./.keel-data; kept across restarts)
  --fresh             delete the data dir first (start an empty cluster)
  --log-level <lvl>   node log level: debug, info, warn, error (default info)
  -h, --help          show this help

Examples:
  pnpm cluster
  pnpm cluster --nodes 5 --fresh
  pnpm cluster --base-port 8001 --data-dir /tmp/keel
`;

// ---------------------------------------------------------------------------------------------
// Command line

function fail(message, status = 1) {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(status);
}

function parseCommandLine(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string', default: '3' },
        'base-port': { type: 'string', default: '7001' },
        'data-dir': { type: 'string', default: '.keel-data' },
        fresh: { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    fail(`${error.message}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const nodes = Number(values.nodes);
  if (!/^\d+$/.test(values.nodes) || nodes < 1 || nodes > NODES_MAX) fail(`--nodes must be an integer in 1..${NODES_MAX}`, 2);
  const basePort = Number(values['base-port']);
  if (!/^\d+$/.test(values['base-port']) || basePort < 1024 || basePort + PEER_PORT_OFFSET + nodes - 1 > 65535) {
    fail(`--base-port must be an integer in 1024..${65535 - PEER_PORT_OFFSET - nodes + 1}`, 2);
  }
  if (!['debug', 'info', 'warn', 'error'].includes(values['log-level'])) fail('--log-level must be debug, info, warn or error', 2);
  return {
    nodes,
    basePort,
    dataDir: resolve(values['data-dir']),
    fresh: values.fresh,
    logLevel: values['log-level'],
    serverArgs: positionals,
  };
}

// ---------------------------------------------------------------------------------------------
// Layout: which ports each node uses, and the check that a reused data dir matches it

function layoutOf(options) {
  const members = [];
  for (let i = 1; i <= options.nodes; i++) {
    members.push({
      id: i,
      clientAddress: `${HOST}:${options.basePort + i - 1}`,
      peerAddress: `${HOST}:${options.basePort + PEER_PORT_OFFSET + i - 1}`,
    });
  }
  return members;
}

function prepareDataDir(options) {
  if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
  mkdirSync(options.dataDir, { recursive: true });
  const file = join(options.dataDir, LAYOUT_FILE);
  const wanted = { nodes: options.nodes, basePort: options.basePort };
  if (existsSync(file)) {
    let saved;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      fail(`${file} is unreadable (${error.message}); use --fresh to start over`);
    }
    if (saved.nodes !== wanted.nodes || saved.basePort !== wanted.basePort) {
      fail(
        `${options.dataDir} holds a cluster of ${saved.nodes} nodes on base port ${saved.basePort}; ` +
          `start it with --nodes ${saved.nodes} --base-port ${saved.basePort}, or add --fresh to wipe it`,
      );
    }
    return false;
  }
  writeFileSync(file, JSON.stringify(wanted) + '\n');
  return true;
}

/** Resolves with the ports (of `ports`) something else is listening on. */
async function portsInUse(ports) {
  const busy = [];
  for (const port of ports) {
    const free = await new Promise((done) => {
      const probe = createServer();
      probe.once('error', () => done(false));
      probe.listen({ host: HOST, port, exclusive: true }, () => probe.close(() => done(true)));
    });
    if (!free) busy.push(port);
  }
  return busy;
}

// ---------------------------------------------------------------------------------------------
// Log streaming

const COLOR = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const PALETTE = [36, 35, 33, 32, 34, 96, 95, 93, 92];
const paint = (code, text) => (COLOR ? `\x1b[${code}m${text}\x1b[0m` : text);
const LEVEL_COLOR = { debug: 90, info: 0, warn: 33, error: 31 };

function formatValue(value) {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** One node log line, pretty: "n2 12:00:01.234 INFO  raft.leader_elected term=3 role=leader k=v". */
function prettyLine(prefix, line) {
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return `${prefix} ${line}`;
  }
  if (typeof record !== 'object' || record === null) return `${prefix} ${line}`;
  const { ts, level, event, nodeId: _nodeId, stack, ...rest } = record;
  const time = typeof ts === 'string' ? ts.slice(11, 23) : '';
  const lvl = String(level ?? '').toUpperCase().padEnd(5);
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const text = `${time} ${paint(LEVEL_COLOR[level] ?? 0, lvl)} ${event ?? ''}${fields ? ' ' + paint(90, fields) : ''}`;
  return `${prefix} ${text}${typeof stack === 'string' ? '\n' + stack : ''}`;
}

function streamLines(stream, prefix, out, pretty) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    out.write((pretty ? prettyLine(prefix, line) : `${prefix} ${line}`) + '\n');
  });
}

// ---------------------------------------------------------------------------------------------
// Nodes

function startNode(member, members, options) {
  const initialCluster = members.map((m) => `${m.id}=${m.peerAddress}/${m.clientAddress}`).join(',');
  const args = [
    SERVER_BIN,
    '--id',
    String(member.id),
    '--data-dir',
    join(options.dataDir, `node-${member.id}`),
    '--initial-cluster',
    initialCluster,
    '--log-level',
    options.logLevel,
    ...options.serverArgs,
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = paint(PALETTE[(member.id - 1) % PALETTE.length], `n${member.id} │`);
  streamLines(child.stdout, prefix, process.stdout, true);
  streamLines(child.stderr, prefix, process.stderr, false);
  const node = { id: member.id, child, pid: child.pid, exited: false, exitCode: null, signal: null };
  node.exitPromise = new Promise((done) => {
    child.on('exit', (code, signal) => {
      node.exited = true;
      node.exitCode = code;
      node.signal = signal;
      done();
    });
    child.on('error', (error) => {
      process.stderr.write(`cluster: node ${member.id} could not start: ${error.message}\n`);
      node.exited = true;
      done();
    });
  });
  return node;
}

/** Stops every live node: SIGTERM, then SIGKILL after the grace period. Resolves true if all stopped by themselves. */
async function stopNodes(nodes, graceMs = STOP_GRACE_MS) {
  const live = nodes.filter((n) => !n.exited && n.pid !== undefined);
  for (const n of live) {
    try {
      process.kill(n.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  let timer;
  const graceOver = new Promise((done) => {
    timer = setTimeout(() => done('timeout'), graceMs);
  });
  const outcome = await Promise.race([Promise.all(live.map((n) => n.exitPromise)).then(() => 'stopped'), graceOver]);
  clearTimeout(timer);
  if (outcome === 'stopped') return true;
  for (const n of live.filter((x) => !x.exited)) {
    process.stderr.write(`cluster: node ${n.id} (pid ${n.pid}) did not stop within ${graceMs} ms; killing it\n`);
    try {
      process.kill(n.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(live.map((n) => n.exitPromise));
  return false;
}

/** Polls every node's status until a leader is known to a majority; resolves with it. */
async function waitForLeader(KeelClient, members, nodes, signal) {
  const client = new KeelClient({ endpoints: members.map((m) => m.clientAddress), timeoutMs: 1000, stallTimeoutMs: 1000 });
  const deadline = Date.now() + LEADER_WAIT_MS;
  try {
    while (Date.now() < deadline && !signal.stopped) {
      const dead = nodes.find((n) => n.exited);
      if (dead !== undefined) {
        throw new Error(`node ${dead.id} exited during start-up (${dead.signal ?? `status ${dead.exitCode}`}); see its log above`);
      }
      const statuses = await client.status();
      const ok = statuses.filter((s) => s.ok).map((s) => s.status);
      const leader = ok.find((s) => s.role === 'leader');
      if (leader !== undefined) {
        const agree = ok.filter((s) => s.leader === leader.id).length;
        if (agree > members.length / 2) return leader;
      }
      await new Promise((done) => setTimeout(done, 200));
    }
    if (signal.stopped) return undefined;
    throw new Error(`no leader elected within ${LEADER_WAIT_MS / 1000} s; see the node logs above`);
  } finally {
    await client.close();
  }
}

function banner(options, members, leader, nodes) {
  const endpoints = members.map((m) => m.clientAddress).join(',');
  const defaults = options.basePort === 7001 && options.nodes === 3;
  // `npx kvctl` finds the workspace's bin whether or not pnpm is installed globally.
  const kv = defaults ? 'npx kvctl' : `npx kvctl --endpoints ${endpoints}`;
  const lines = [
    '',
    paint(1, `Keel cluster ready: ${options.nodes} node(s), leader n${leader.id} (term ${leader.term})`),
    `  endpoints: ${endpoints}`,
    `  data dir:  ${options.dataDir}`,
    `  pids:      ${nodes.map((n) => `n${n.id}=${n.pid}`).join(' ')}`,
    '',
    'Try, in another terminal:',
    `  ${kv} put hello world`,
    `  ${kv} get hello`,
    `  ${kv} status`,
    ...(defaults ? [] : [`  (or: export KEEL_ENDPOINTS=${endpoints})`]),
    'Ctrl-C stops the cluster; the data stays in the data dir unless you restart with --fresh.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const options = parseCommandLine(process.argv.slice(2));
  if (!existsSync(SERVER_BIN) || !existsSync(CLIENT_DIST)) {
    fail('the packages are not built; run `npx --yes pnpm@10 build` (pnpm cluster builds first)');
  }
  const members = layoutOf(options);
  const ports = members.flatMap((m) => [Number(m.clientAddress.split(':')[1]), Number(m.peerAddress.split(':')[1])]);
  const busy = await portsInUse(ports);
  if (busy.length > 0) {
    fail(
      `port(s) ${busy.join(', ')} on ${HOST} are already in use (another cluster running?). ` +
        `Stop it, or pick other ports with --base-port (e.g. --base-port ${options.basePort + 1000}).`,
    );
  }
  const fresh = prepareDataDir(options);
  const { KeelClient } = await import(pathToFileURL(CLIENT_DIST).href);

  process.stdout.write(
    `cluster: starting ${options.nodes} node(s) (${fresh ? 'new data' : 'existing data'} in ${options.dataDir})\n`,
  );
  const nodes = members.map((m) => startNode(m, members, options));
  const state = { stopped: false, stopping: undefined, killed: false };

  const shutdown = async (reason, status) => {
    if (state.stopping !== undefined) return state.stopping;
    state.stopped = true;
    state.stopping = (async () => {
      process.stdout.write(`\ncluster: ${reason}; stopping ${nodes.filter((n) => !n.exited).length} node(s)…\n`);
      const clean = await stopNodes(nodes);
      for (const n of nodes) {
        process.stdout.write(`cluster: n${n.id} (pid ${n.pid}) stopped (${n.signal ?? `status ${n.exitCode}`})\n`);
      }
      process.exit(clean && !state.killed ? status : 1);
    })();
    return state.stopping;
  };
  let firstSignalAt;
  const onSignal = (signal) => {
    // A second signal escalates to SIGKILL; one arriving within 500 ms of the first is the same
    // request delivered twice (a terminal or `timeout` signals the whole process group too).
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < 500) return;
      process.stderr.write('cluster: second signal; killing the nodes now\n');
      state.killed = true;
      for (const n of nodes) if (!n.exited && n.pid !== undefined) process.kill(n.pid, 'SIGKILL');
      return;
    }
    firstSignalAt = Date.now();
    void shutdown(`${signal} received`, 0);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  let leader;
  try {
    leader = await waitForLeader(KeelClient, members, nodes, state);
  } catch (error) {
    process.stderr.write(`cluster: ${error.message}\n`);
    await shutdown('start-up failed', 1);
    return;
  }
  if (leader === undefined) return; // a signal arrived first; shutdown is under way
  banner(options, members, leader, nodes);
  for (const n of nodes) {
    n.exitPromise.then(() => {
      if (!state.stopped) {
        process.stderr.write(`cluster: node ${n.id} (pid ${n.pid}) exited (${n.signal ?? `status ${n.exitCode}`})\n`);
      }
    });
  }
}

await main();
