/**
 * Network faults without root: every node's peer address in the membership is a proxy that the
 * harness owns, in front of the port the node really listens on. Every peer connection to that
 * node, whoever dials it (members added later and snapshot streams included), passes through the
 * proxy, which reads the dialer's id from its hello and applies the state of each directed link
 * to each direction of the connection (see `ProxiedConnection`).
 *
 * So "node A cannot reach node B" (`cut(A, B)`) holds whichever side dialed: bytes from A are
 * stopped on the connections A opened to B's proxy *and* on the connections B opened to A's.
 */
import net from 'node:net';
import { freePorts } from '../ports.js';
import { HOST } from './direct.js';
import { checkCut, splitAddress, type Cut, type CutMode, type FixedPorts, type Network, type NodeAddresses } from './network.js';
import { ProxiedConnection, type ConnectionHost } from './proxied-connection.js';

export interface ProxyNetworkOptions {
  /**
   * What becomes of connections that were blackholed when the links heal.
   * - `'deliver'` (default): the bytes held during the cut go through and the connection carries
   *   on, as when TCP retransmits promptly.
   * - `'stall'`: they stay silent both ways for good, and only connections dialed after the heal
   *   carry traffic. This is how a real partition (iptables DROP) looks to the application once
   *   the kernel has backed off its retransmissions: the socket stays open and nothing arrives.
   */
  readonly afterHeal?: 'deliver' | 'stall';
}

interface Door {
  readonly server: net.Server;
  readonly ports: readonly number[];
  readonly listenPeer: string;
}

const linkKey = (from: number, to: number): string => `${from}->${to}`;

export class ProxyNetwork implements Network {
  readonly kind = 'proxy';
  private readonly afterHeal: 'deliver' | 'stall';
  private readonly doors = new Map<number, Door>();
  private readonly links = new Map<string, Cut>();
  private readonly delivered = new Map<string, number>();
  private readonly connections = new Set<ProxiedConnection>();
  private readonly host: ConnectionHost;

  constructor(options: ProxyNetworkOptions = {}) {
    this.afterHeal = options.afterHeal ?? 'deliver';
    this.host = {
      mode: (from, to) => this.links.get(linkKey(from, to))?.mode,
      target: (to) => {
        const door = this.doors.get(to);
        if (door === undefined) throw new Error(`proxy: no node ${to}`);
        return splitAddress(door.listenPeer);
      },
      delivered: (from, to, bytes) => {
        const key = linkKey(from, to);
        this.delivered.set(key, (this.delivered.get(key) ?? 0) + bytes);
      },
      closed: (connection) => this.connections.delete(connection),
    };
  }

  async addNode(id: number, fixed?: FixedPorts): Promise<NodeAddresses> {
    if (this.doors.has(id)) throw new Error(`proxy: node ${id} was added already`);
    const used = [...this.doors.values()].flatMap((d) => d.ports);
    const [listenPort, clientPort] = await freePorts(2, used);
    const client = fixed?.clientPort ?? clientPort!;
    const listenPeer = `${HOST}:${listenPort}`;
    const { server, port } = await this.listen(id, fixed?.peerPort, [...used, listenPort!, client]);
    this.doors.set(id, { server, ports: [port, listenPort!, client], listenPeer });
    return {
      listenPeer,
      listenClient: `${HOST}:${client}`,
      peerAddress: `${HOST}:${port}`,
      clientAddress: `${HOST}:${client}`,
    };
  }

  async removeNode(id: number): Promise<void> {
    const door = this.doors.get(id);
    if (door === undefined) return;
    this.doors.delete(id);
    for (const c of [...this.connections]) if (c.to === id) c.close();
    await new Promise<void>((resolve) => door.server.close(() => resolve()));
  }

  command(_id: number, argv: readonly string[]): { file: string; args: readonly string[] } {
    return { file: process.execPath, args: argv };
  }

  cut(from: number, to: number, mode: CutMode): void {
    checkCut(from, to, mode);
    this.links.set(linkKey(from, to), { from, to, mode });
    for (const c of [...this.connections]) c.apply();
  }

  heal(): void {
    this.links.clear();
    for (const c of [...this.connections]) {
      if (this.afterHeal === 'stall' && c.blackholed) c.stall();
      else c.apply();
    }
  }

  cuts(): Cut[] {
    return [...this.links.values()];
  }

  /** Bytes that reached `to` from `from` so far, over connections dialed either way. */
  bytes(from: number, to: number): number {
    return this.delivered.get(linkKey(from, to)) ?? 0;
  }

  /** Bytes on their way from `from` to `to` that the proxies hold back now (the link is blackholed). */
  held(from: number, to: number): number {
    let sum = 0;
    for (const c of this.connections) sum += c.heldBytes(from, to);
    return sum;
  }

  async close(): Promise<void> {
    for (const c of [...this.connections]) c.close();
    await Promise.all([...this.doors.keys()].map((id) => this.removeNode(id)));
  }

  /** Opens node `id`'s proxy on `fixedPort`, or on a free port (choosing again if one is taken meanwhile). */
  private async listen(id: number, fixedPort: number | undefined, exclude: number[]): Promise<{ server: net.Server; port: number }> {
    for (let attempt = 1; ; attempt++) {
      const port = fixedPort ?? (await freePorts(1, exclude))[0]!;
      const server = net.createServer({ noDelay: true }, (socket) => {
        const connection = new ProxiedConnection(id, socket, this.host);
        this.connections.add(connection);
      });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: HOST, port, exclusive: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', () => undefined); // accept errors concern one connection only
        return { server, port };
      } catch (error) {
        const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!inUse || fixedPort !== undefined || attempt >= 10) throw error;
        exclude = [...exclude, port];
      }
    }
  }
}
