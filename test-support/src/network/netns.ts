/**
 * Network faults in the kernel (Linux, as root): each node runs in its own network namespace,
 * attached by a veth pair to a bridge the harness creates, and a cut is a set of iptables rules in
 * the receiving node's namespace (see `netns/rules.ts` for what a cut means to TCP in each mode).
 * This is how a real partition looks: connections stay open and the kernel backs off its
 * retransmissions, which no user-space proxy imitates.
 *
 * Addresses: a /24 out of 198.18.0.0/15 that no address or route of the host overlaps (see
 * `netns/subnet.ts`); the bridge is `.1`, so tests and clients in the root namespace reach every
 * node's client port directly. Nothing is routed or forwarded beyond the bridge (no NAT, no
 * change to the host's interfaces, sysctls or firewall): all traffic stays between the
 * namespaces and the bridge, and every rule lives inside a namespace the harness made.
 *
 * Cleanup: `close()` deletes every namespace and the bridge; the reaper does the same if the
 * process exits without it; and each new network first removes what dead runs left behind
 * (`removeLeftovers`: only names of this harness whose owning pid is dead).
 *
 * `NetnsNetwork.available()` says whether it can run here, and why not.
 */
import { trackCleanup, untrackCleanup } from '../reaper.js';
import { checkCut, type Cut, type CutMode, type FixedPorts, type Network, type NodeAddresses } from './network.js';
import { netnsAvailable, type NetnsAvailability } from './netns/available.js';
import { IP_BATCH, run, runSync } from './netns/command.js';
import { hostPrefixes } from './netns/host-prefixes.js';
import { removeLeftovers, type Leftovers } from './netns/leftovers.js';
import { runNames, type RunNames } from './netns/names.js';
import { RESTORE, filterTable, type RuleNode } from './netns/rules.js';
import {
  FIRST_NODE_HOST,
  LAST_NODE_HOST,
  SUBNET_LENGTH,
  chooseSubnet,
  formatPrefix,
  hostAddress,
  overlaps,
  type Prefix,
} from './netns/subnet.js';

/** Ports inside each namespace when the cluster does not fix them (every node has its own address). */
export const NETNS_CLIENT_PORT = 2379;
export const NETNS_PEER_PORT = 2380;

/** Times a subnet is chosen again when another run took the same one at the same moment. */
const SUBNET_ATTEMPTS = 10;

interface Member extends RuleNode {
  readonly namespace: string;
  readonly host: number;
  readonly clientPort: number;
}

export class NetnsNetwork implements Network {
  readonly kind = 'netns';
  private readonly names: RunNames = runNames();
  private readonly members = new Map<number, Member>();
  private readonly links = new Map<string, Cut>();
  /** The filter table last loaded into each node's namespace. */
  private readonly tables = new Map<number, string>();
  private subnetPrefix: Prefix | undefined;
  private ready: Promise<void> | undefined;
  private closed = false;
  private readonly reap = (): void => {
    try {
      runSync(IP_BATCH, this.teardown([...this.members.values()], true));
    } catch {
      // some of it was gone already; -force went on with the rest
    }
  };

  /** Whether the netns network can run on this machine (root, `ip`, `iptables`, a working kernel), and why not. */
  static available(): Promise<NetnsAvailability> {
    return netnsAvailable();
  }

  /** Removes namespaces and bridges that dead runs of this harness left behind (done by every new network too). */
  static removeLeftovers(): Promise<Leftovers> {
    return removeLeftovers();
  }

  /** `keel-<pid>-<tag>`: node `id`'s namespace is `<run>-<id>`; the bridge carries it as its alias. */
  get run(): string {
    return this.names.run;
  }

  get bridge(): string {
    return this.names.bridge;
  }

  /** The /24 the nodes live in ("198.18.x.0/24"), once the first node was added. */
  get subnet(): string | undefined {
    return this.subnetPrefix === undefined ? undefined : formatPrefix(this.subnetPrefix);
  }

  /** Node `id`'s namespace (for `ip netns exec <ns> ss -tn` and the like). */
  namespace(id: number): string {
    return this.member(id).namespace;
  }

  /** Node `id`'s address in the subnet. */
  address(id: number): string {
    return this.member(id).address;
  }

  async addNode(id: number, fixed?: FixedPorts): Promise<NodeAddresses> {
    if (this.closed) throw new Error('netns: the network is closed');
    if (this.members.has(id)) throw new Error(`netns: node ${id} was added already`);
    const veth = this.names.veth(id);
    await (this.ready ??= this.setUp());
    const host = this.freeHost();
    const member: Member = {
      id,
      namespace: this.names.namespace(id),
      host,
      address: hostAddress(this.subnetPrefix!, host),
      peerPort: fixed?.peerPort ?? NETNS_PEER_PORT,
      clientPort: fixed?.clientPort ?? NETNS_CLIENT_PORT,
    };
    this.members.set(id, member); // before the namespace exists, so that every teardown covers it
    const ns = member.namespace;
    try {
      await run(['ip', '-batch', '-'], [`netns add ${ns}`, `link add ${veth} type veth peer name eth0 netns ${ns}`, `link set ${veth} master ${this.bridge} up`, ''].join('\n'));
      await run(['ip', '-n', ns, '-batch', '-'], [`addr add ${member.address}/${SUBNET_LENGTH} dev eth0`, 'link set eth0 up', 'link set lo up', ''].join('\n'));
    } catch (error) {
      await this.removeNode(id);
      throw error;
    }
    this.load();
    const peer = `${member.address}:${member.peerPort}`;
    const client = `${member.address}:${member.clientPort}`;
    return { listenPeer: peer, listenClient: client, peerAddress: peer, clientAddress: client };
  }

  async removeNode(id: number): Promise<void> {
    const member = this.members.get(id);
    if (member === undefined) return;
    this.members.delete(id);
    this.tables.delete(id);
    await run(IP_BATCH, this.teardown([member], false)).catch(() => undefined);
    this.load();
  }

  /** `ip netns exec <ns> node …`: the same process (ip execs it), so signals by pid reach the node. */
  command(id: number, argv: readonly string[]): { file: string; args: readonly string[] } {
    return { file: 'ip', args: ['netns', 'exec', this.namespace(id), process.execPath, ...argv] };
  }

  cut(from: number, to: number, mode: CutMode): void {
    checkCut(from, to, mode);
    this.member(from);
    this.member(to);
    this.links.set(`${from}->${to}`, { from, to, mode });
    this.load();
  }

  heal(): void {
    this.links.clear();
    this.load();
  }

  cuts(): Cut[] {
    return [...this.links.values()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready?.catch(() => undefined);
    if (this.ready !== undefined) await run(IP_BATCH, this.teardown([...this.members.values()], true)).catch(() => undefined);
    untrackCleanup(this.reap);
    this.members.clear();
    this.tables.clear();
  }

  /**
   * Checks that it can run here (failing with the reason), removes what dead runs left, then
   * makes the bridge on a /24 nobody uses: chosen from the host's addresses and routes, and
   * checked again once the bridge holds it (another run may have chosen the same one meanwhile;
   * then both choose again).
   */
  private async setUp(): Promise<void> {
    const availability = await netnsAvailable();
    if (!availability.ok) throw new Error(availability.reason);
    await removeLeftovers();
    trackCleanup(this.reap);
    const bridge = this.bridge;
    for (let attempt = 1; attempt <= SUBNET_ATTEMPTS; attempt++) {
      const subnet = chooseSubnet(await hostPrefixes());
      if (subnet === undefined) throw new Error('netns: every /24 of 198.18.0.0/15 overlaps an address or route of this host');
      const gateway = `${hostAddress(subnet, 1)}/${SUBNET_LENGTH}`;
      await run(
        ['ip', '-batch', '-'],
        [`link add ${bridge} type bridge`, `link set ${bridge} alias ${this.run}`, `addr add ${gateway} dev ${bridge}`, `link set ${bridge} up`, ''].join('\n'),
      );
      this.subnetPrefix = subnet;
      if (!(await hostPrefixes(bridge)).some((p) => p.length > 0 && overlaps(p, subnet))) return;
      await run(['ip', 'link', 'delete', bridge]);
      this.subnetPrefix = undefined;
    }
    throw new Error(`netns: no free /24 in 198.18.0.0/15 after ${SUBNET_ATTEMPTS} attempts (other runs keep taking them)`);
  }

  /** Loads the filter table of every namespace whose rules changed. */
  private load(): void {
    const cuts = this.cuts();
    for (const member of this.members.values()) {
      const table = filterTable(member, this.members, cuts);
      if (this.tables.get(member.id) === table) continue;
      runSync(['ip', 'netns', 'exec', member.namespace, ...RESTORE], table);
      this.tables.set(member.id, table);
    }
  }

  /**
   * `ip -batch` input that deletes `members` (and the bridge, with `bridge`). Each veth is deleted
   * explicitly: the kernel destroys a deleted namespace, and the devices in it, asynchronously,
   * and later still while a process (a node being killed) is inside.
   */
  private teardown(members: readonly Member[], bridge: boolean): string {
    const lines = members.flatMap((m) => [`link delete ${this.names.veth(m.id)}`, `netns delete ${m.namespace}`]);
    if (bridge) lines.push(`link delete ${this.bridge}`);
    return lines.map((l) => `${l}\n`).join('');
  }

  private freeHost(): number {
    const used = new Set([...this.members.values()].map((m) => m.host));
    for (let host = FIRST_NODE_HOST; host <= LAST_NODE_HOST; host++) if (!used.has(host)) return host;
    throw new Error(`netns: no address left in ${this.subnet} (${used.size} nodes)`);
  }

  private member(id: number): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`netns: no node ${id}`);
    return m;
  }
}
