import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 for one link: accepts connections and pipes each to `target`.
 * `cut()` drops every connection and refuses new ones until `heal()`. Counts bytes forwarded.
 */
export class TcpProxy {
  bytesForwarded = 0;
  connections = 0;
  private cutOff = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static start(targetPort: number): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined;
      const server = createServer((client) => proxy!.accept(client, targetPort));
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        if (typeof addr !== 'object' || addr === null) return reject(new Error('no address'));
        proxy = new TcpProxy(server, addr.port);
        resolve(proxy);
      });
    });
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.cutOff) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.on('data', (chunk: Buffer) => {
        this.bytesForwarded += chunk.length;
        to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.cutOff = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Routes every peer link of a cluster through its own proxy, keyed `"from->to"` in `proxies`:
 * pass the result as `ClusterOptions.nodeArgs`, then cut or heal any link from the test. The
 * caller closes the proxies (after the cluster) in its cleanup.
 */
export function proxyEveryPeerLink(
  proxies: Map<string, TcpProxy>,
): (id: number, cluster: { readonly specs: readonly { readonly id: number; readonly peerPort: number }[] }) => Promise<string[]> {
  return async (id, cluster) => {
    const dial: string[] = [];
    for (const s of cluster.specs) {
      if (s.id === id) continue;
      const proxy = await TcpProxy.start(s.peerPort);
      proxies.set(`${id}->${s.id}`, proxy);
      dial.push(`${s.id}=127.0.0.1:${proxy.port}`);
    }
    return ['--peers', dial.join(',')];
  };
}
