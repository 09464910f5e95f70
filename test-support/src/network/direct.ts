/**
 * Nodes dial each other at the addresses they listen on. No proxy in between, so no faults but
 * process ones (kill, pause): what `pnpm cluster` and benchmarks use.
 */
import { freePorts } from '../ports.js';
import type { Cut, CutMode, FixedPorts, Network, NodeAddresses } from './network.js';

export const HOST = '127.0.0.1';

export class DirectNetwork implements Network {
  readonly kind = 'direct';
  private readonly ports = new Map<number, number[]>();

  async addNode(id: number, fixed?: FixedPorts): Promise<NodeAddresses> {
    const [peerPort, clientPort] = fixed !== undefined ? [fixed.peerPort, fixed.clientPort] : await freePorts(2, this.used());
    this.ports.set(id, [peerPort!, clientPort!]);
    const peer = `${HOST}:${peerPort}`;
    const client = `${HOST}:${clientPort}`;
    return { listenPeer: peer, listenClient: client, peerAddress: peer, clientAddress: client };
  }

  async removeNode(id: number): Promise<void> {
    this.ports.delete(id);
  }

  command(_id: number, argv: readonly string[]): { file: string; args: readonly string[] } {
    return { file: process.execPath, args: argv };
  }

  cut(_from: number, _to: number, _mode: CutMode): never {
    throw new Error("the direct network cannot cut links: start the cluster with network: 'proxy'");
  }

  heal(): void {
    // nothing is ever cut
  }

  cuts(): Cut[] {
    return [];
  }

  async close(): Promise<void> {
    this.ports.clear();
  }

  private used(): number[] {
    return [...this.ports.values()].flat();
  }
}
