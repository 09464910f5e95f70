/**
 * NetnsNetwork in the kernel (Linux, root; skipped with the reason otherwise): what a directed
 * cut does to real TCP connections between two stand-in nodes, each a small Node program in its
 * own namespace; that close() leaves nothing behind; and that what a dead run left is removed
 * (and nothing else).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NetnsNetwork, ROOT, isAlive, splitAddress, waitForProgress } from '@keel/test-support';
import { hostState, netnsSuite, owned, sh, sockets, unavailable } from './netns-helpers.js';

/**
 * A stand-in node: listens on its peer address, dials and sends when told (JSON lines on stdin),
 * and reports every connection, chunk and ending (JSON lines on stdout). Accepted connections
 * are named in1, in2, …
 */
const AGENT = `
import net from 'node:net';
import { createInterface } from 'node:readline';
const out = (event) => process.stdout.write(JSON.stringify(event) + '\\n');
const conns = new Map();
const watch = (conn, socket) => {
  conns.set(conn, socket);
  socket.setNoDelay(true);
  socket.on('data', (d) => out({ ev: 'data', conn, text: String(d) }));
  socket.on('error', (e) => out({ ev: 'end', conn, how: e.code }));
  socket.on('close', () => out({ ev: 'end', conn, how: 'closed' }));
};
let accepted = 0;
net.createServer((s) => { const conn = 'in' + ++accepted; watch(conn, s); out({ ev: 'accepted', conn }); })
  .listen(Number(process.argv[2]), process.argv[1], () => out({ ev: 'listening' }));
createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  if (c.op === 'dial') watch(c.conn, net.connect(c.port, c.host, () => out({ ev: 'connected', conn: c.conn })));
  if (c.op === 'send') conns.get(c.conn).write(c.text);
});
process.stdin.on('end', () => process.exit(0));
`;

interface AgentEvent {
  readonly ev: 'listening' | 'accepted' | 'connected' | 'data' | 'end';
  readonly conn?: string;
  readonly text?: string;
  readonly how?: string;
}

class Agent {
  readonly events: AgentEvent[] = [];
  private constructor(
    readonly id: number,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.events.push(JSON.parse(line) as AgentEvent));
  }

  static async start(network: NetnsNetwork, id: number, listenPeer: string): Promise<Agent> {
    const { host, port } = splitAddress(listenPeer);
    const { file, args } = network.command(id, ['--input-type=module', '-e', AGENT, host, String(port)]);
    const agent = new Agent(id, spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
    cleanups.push(() => agent.stop());
    await agent.until('listening', (e) => e.ev === 'listening');
    return agent;
  }

  dial(conn: string, address: string): void {
    const { host, port } = splitAddress(address);
    this.child.stdin!.write(`${JSON.stringify({ op: 'dial', conn, host, port })}\n`);
  }

  send(conn: string, text: string): void {
    this.child.stdin!.write(`${JSON.stringify({ op: 'send', conn, text })}\n`);
  }

  /** Everything received on `conn`. */
  received(conn: string): string {
    return this.events.filter((e) => e.ev === 'data' && e.conn === conn).map((e) => e.text).join('');
  }

  has(ev: AgentEvent['ev'], conn?: string): boolean {
    return this.events.some((e) => e.ev === ev && (conn === undefined || e.conn === conn));
  }

  /** How `conn` ended first ('ECONNRESET', 'closed', …), once it has. */
  async ending(conn: string): Promise<string> {
    const e = await this.until(`${conn} ends`, (x) => x.ev === 'end' && x.conn === conn);
    return e.how!;
  }

  /** The name of the connection accepted after `count` others. */
  async accepted(count: number): Promise<string> {
    await this.until(`connection ${count + 1} accepted`, () => this.events.filter((e) => e.ev === 'accepted').length > count);
    return `in${count + 1}`;
  }

  /** The first event matching `pred`, once the agent reported it (its events, arriving, are the progress). */
  until(what: string, pred: (e: AgentEvent) => boolean): Promise<AgentEvent> {
    return waitForProgress(() => this.events.find(pred), () => this.events.length, () => `node ${this.id}: ${what}; events: ${JSON.stringify(this.events)}`);
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Nodes 1 and 2 in their namespaces, with a connection dialed each way: c12 (1's end; in1 at 2) and c21 (2's end; in1 at 1). */
async function twoNodes() {
  const network = new NetnsNetwork();
  cleanups.push(() => network.close());
  const a1 = await network.addNode(1);
  const a2 = await network.addNode(2);
  const n1 = await Agent.start(network, 1, a1.listenPeer);
  const n2 = await Agent.start(network, 2, a2.listenPeer);
  n1.dial('c12', a2.peerAddress);
  const at2 = await n2.accepted(0);
  n2.dial('c21', a1.peerAddress);
  const at1 = await n1.accepted(0);
  n1.send('c12', 'hello 2;');
  n2.send('c21', 'hello 1;');
  await n2.until('2 hears 1', () => n2.received(at2) === 'hello 2;');
  await n1.until('1 hears 2', () => n1.received(at1) === 'hello 1;');
  return { network, a1, a2, n1, n2, at1, at2 };
}

/** The connection in `namespace` between `local` and `peer` (host:port each, either end), as ss sees it. */
function socketOf(namespace: string, local: string, peerHost: string, peerPort?: number) {
  return sockets(namespace).find(
    (s) => s.local.startsWith(`${local}:`) && s.peer.startsWith(`${peerHost}:`) && (peerPort === undefined || s.peer === `${peerHost}:${peerPort}`),
  );
}

describe.skipIf(unavailable !== undefined)(netnsSuite('NetnsNetwork in the kernel'), () => {
  it("blackhole 1 -> 2: connections stay ESTABLISHED and retransmit with backoff; 2's first segments reach 1 unacknowledged; no new connection completes; heal delivers", async () => {
    const { network, a1, a2, n1, n2, at1, at2 } = await twoNodes();
    const [ip1, ip2] = [network.address(1), network.address(2)];
    network.cut(1, 2, 'blackhole');
    expect(network.cuts()).toEqual([{ from: 1, to: 2, mode: 'blackhole' }]);

    n1.send('c12', 'lost on 1s dial;');
    n1.send(at1, 'lost on 2s dial;');
    n2.send(at2, 'heard on 1s dial;');
    n2.send('c21', 'heard on 2s dial;');
    // 2's segments still reach 1, on connections dialed either way …
    await n1.until('1 hears 2 on its dial', () => n1.received('c12') === 'heard on 1s dial;');
    await n1.until('1 hears 2 on 2s dial', () => n1.received(at1) === 'hello 1;heard on 2s dial;');
    n1.dial('late12', a2.peerAddress);
    n2.dial('late21', a1.peerAddress);
    // … but nothing from 1 reaches 2, not even 1's acknowledgements: both kernels retransmit into
    // the cut with exponential backoff, and both connections stay ESTABLISHED.
    const dial1 = () => socketOf(network.namespace(1), ip1, ip2, splitAddress(a2.peerAddress).port);
    const dial2 = () => socketOf(network.namespace(2), ip2, ip1, splitAddress(a1.peerAddress).port);
    await waitForProgress(() => (dial1()?.backoff ?? 0) > 0, dial1, '1 retransmitting on its dial with backoff');
    await waitForProgress(() => (dial2()?.backoff ?? 0) > 0, dial2, '2 retransmitting on its dial, unacknowledged');
    const established = (ns: string, local: string, peer: string): string[] =>
      sockets(ns).filter((s) => s.local.startsWith(`${local}:`) && s.peer.startsWith(`${peer}:`)).map((s) => s.state);
    expect(established(network.namespace(1), ip1, ip2).filter((s) => s === 'ESTAB')).toHaveLength(2);
    expect(established(network.namespace(2), ip2, ip1).filter((s) => s === 'ESTAB')).toHaveLength(2);
    expect(n2.received(at2)).toBe('hello 2;');
    expect(n2.received('c21')).toBe('');
    // Neither new dial completed: 1's SYN is dropped, and so is 1's SYN-ACK to 2's SYN.
    expect(n1.has('connected', 'late12') || n2.has('connected', 'late21')).toBe(false);
    expect(n1.events.filter((e) => e.ev === 'accepted')).toHaveLength(1);
    expect(n2.events.filter((e) => e.ev === 'accepted')).toHaveLength(1);

    network.heal();
    expect(network.cuts()).toEqual([]);
    expect(sh(['ip', 'netns', 'exec', network.namespace(2), 'iptables', '-S', 'INPUT']).trim()).toBe('-P INPUT ACCEPT');
    // TCP retransmits what was lost (at the next retry of its backoff), and the dials complete.
    await n2.until('1s bytes arrive on 1s dial', () => n2.received(at2) === 'hello 2;lost on 1s dial;');
    await n2.until('1s bytes arrive on 2s dial', () => n2.received('c21') === 'lost on 2s dial;');
    await n1.until('the late dial from 1 connects', (e) => e.ev === 'connected' && e.conn === 'late12');
    await n2.until('the late dial from 2 connects', (e) => e.ev === 'connected' && e.conn === 'late21');
  });

  it('reset 1 -> 2: each end of a connection dialed either way is reset when a segment crosses; new dials are refused both ways; heal lets them through', async () => {
    const { network, a1, a2, n1, n2, at1, at2 } = await twoNodes();
    network.cut(1, 2, 'reset');

    // 1's dial: 1 sends, 2 rejects with a reset; then 2 sends, and 1's kernel answers with a reset that passes.
    n1.send('c12', 'rejected');
    expect(await n1.ending('c12')).toBe('ECONNRESET');
    n2.send(at2, 'to a closed socket');
    expect(await n2.ending(at2)).toBe('ECONNRESET');
    // 2's dial: 2's data reaches 1, 1's acknowledgement is rejected; 2's next segment meets 1's reset.
    // (When the reset arrives before 1 has read the data, libuv reads the data, sees the hangup
    // and reports a plain end of stream: the connection ends either way.)
    n2.send('c21', 'accepted then reset;');
    expect(['ECONNRESET', 'closed']).toContain(await n1.ending(at1));
    expect(n1.received(at1)).toBe('hello 1;accepted then reset;');
    n2.send('c21', 'again');
    expect(await n2.ending('c21')).toBe('ECONNRESET');
    // New connections are refused, whoever dials.
    n1.dial('late12', a2.peerAddress);
    n2.dial('late21', a1.peerAddress);
    expect(await n1.ending('late12')).toBe('ECONNREFUSED');
    expect(await n2.ending('late21')).toBe('ECONNREFUSED');
    expect(n2.received(at2)).toBe('hello 2;');

    network.heal();
    n1.dial('healed12', a2.peerAddress);
    n2.dial('healed21', a1.peerAddress);
    await n1.until('1 dials 2 again', (e) => e.ev === 'connected' && e.conn === 'healed12');
    await n2.until('2 dials 1 again', (e) => e.ev === 'connected' && e.conn === 'healed21');
  });

  it('close() removes every namespace, veth, bridge, route and rule it made, and the host firewall is never touched', async () => {
    const before = hostState();
    const network = new NetnsNetwork();
    cleanups.push(() => network.close());
    for (const id of [1, 2, 3]) await network.addNode(id);
    network.cut(1, 2, 'reset');
    network.cut(2, 3, 'blackhole');
    const during = hostState();
    expect(owned(during, network).sort()).toEqual(
      [
        ...[1, 2, 3].map((id) => network.namespace(id)),
        network.bridge,
        ...[1, 2, 3].map((id) => `kv-${network.bridge.slice(3)}-${id}`),
        `${network.subnet} dev ${network.bridge}`,
        `${network.address(1).replace(/\.\d+$/, '.1')} dev ${network.bridge}`, // the bridge's own address (local table)
        `${network.address(1).replace(/\.\d+$/, '.255')} dev ${network.bridge}`, // and its broadcast
      ].sort(),
    );
    expect(sh(['ip', 'netns', 'exec', network.namespace(3), 'iptables', '-S', 'INPUT'])).toContain('-j DROP');
    expect(during.firewall).toBe(before.firewall);

    await network.close();
    const after = hostState();
    expect(owned(after, network)).toEqual([]);
    expect(after.firewall).toBe(before.firewall);
    await network.close(); // twice is fine
    await expect(network.addNode(4)).rejects.toThrow(/closed/);
  });

  it('removes what a dead run left (its namespaces, bridge and nodes), and nothing of a live run or with another name', async () => {
    // A child process starts a 2-node cluster in namespaces, with a cut, reports it, and then
    // exits without destroy() (the reaper cleans up) or is killed with SIGKILL (nothing can).
    // The nodes log only errors: a node that writes to the pipe of a dead harness gets EPIPE and
    // exits, and these must outlive theirs.
    const script = `
      const { Cluster, NetnsNetwork } = await import(${JSON.stringify(join(ROOT, 'test-support/dist/index.js'))});
      const network = new NetnsNetwork();
      const cluster = await Cluster.start({ nodes: 2, network, waitForLeader: false, logLevel: 'error' });
      cluster.cut(1, 2, 'blackhole');
      console.log(JSON.stringify({ namespaces: cluster.ids.map((id) => network.namespace(id)), bridge: network.bridge, pids: cluster.nodes.map((n) => n.pid), dataRoot: cluster.dataRoot }));
      process.stdin.once('data', () => process.exit(0));
    `;
    const runs = (['exit', 'SIGKILL'] as const).map(async (ending) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      const [line] = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value as string]);
      const made = JSON.parse(line!) as { namespaces: string[]; bridge: string; pids: number[]; dataRoot: string };
      cleanups.push(() => {
        for (const pid of made.pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        for (const ns of made.namespaces) sh(['sh', '-c', `ip netns delete ${ns} 2>/dev/null || true`]);
        sh(['sh', '-c', `ip link delete ${made.bridge} 2>/dev/null || true`]);
        // The killed harness could not remove its temp data root (the exited one did, at exit).
        rmSync(made.dataRoot, { recursive: true, force: true });
      });
      const tag = made.bridge.slice('kb-'.length);
      const present = (): string[] => {
        const state = hostState();
        return [...made.namespaces.filter((n) => state.namespaces.includes(n)), ...state.links.filter((l) => l.includes(tag))];
      };
      expect(present()).toHaveLength(5); // 2 namespaces, the bridge, 2 veths
      if (ending === 'exit') child.stdin!.write('go\n');
      else {
        // Frozen, its pid is alive, so no sweep (another netns run may start at any time on this
        // machine) takes its leftovers before the test has seen them and the nodes still running.
        child.kill('SIGSTOP');
        expect(present()).toHaveLength(5);
        expect(made.pids.every(isAlive)).toBe(true);
        child.kill('SIGKILL');
      }
      await exited;
      return { ending, made, present, pid: child.pid! };
    });
    const [exited, killed] = await Promise.all(runs);

    // Exiting without destroy(): the exit hook deleted everything and killed the nodes.
    expect(exited!.present()).toEqual([]);
    const alive = (pids: readonly number[]): number => pids.filter(isAlive).length;
    await waitForProgress(() => alive(exited!.made.pids) === 0, () => alive(exited!.made.pids), 'the exit hook killing the nodes');

    // Killed: no hook ran, so it all stays, and the quiet nodes keep running, until a sweep (this
    // one, or that of another netns run starting meanwhile, which runs the same code).
    // Decoys: a namespace of a live run (the test runner's parent is alive), one whose name only looks like ours.
    const decoys = [`keel-${process.ppid}-decoy0-1`, `keel-${killed!.pid}-short-1`];
    for (const ns of decoys) {
      sh(['ip', 'netns', 'add', ns]);
      cleanups.push(() => void sh(['sh', '-c', `ip netns delete ${ns} 2>/dev/null || true`]));
    }
    const removed = await NetnsNetwork.removeLeftovers();
    expect(killed!.present()).toEqual([]);
    await waitForProgress(() => alive(killed!.made.pids) === 0, () => alive(killed!.made.pids), "the dead run's nodes gone");
    for (const ns of decoys) expect(removed.namespaces).not.toContain(ns);
    expect(hostState().namespaces).toEqual(expect.arrayContaining(decoys));
    // Whatever a sweep removes has a dead owner.
    for (const ns of removed.namespaces) expect(isAlive(Number(ns.split('-')[1])), ns).toBe(false);
  });
});
