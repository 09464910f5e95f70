/**
 * The set-up the client's cluster tests share: a real cluster started through the harness and the
 * clients made for it, all closed and destroyed after each test, also when it fails.
 */
import { afterEach } from 'vitest';
import { KeelClient } from '@keel/client';
import { Cluster, type ClusterOptions } from '@keel/test-support';

export interface ClusterClients {
  /** Starts the test's cluster (destroyed after the test). */
  start(options: ClusterOptions): Promise<Cluster>;
  /** A client on `endpoints` (closed after the test): 10 s deadline, 1.5 s stall timeout unless given. */
  client(endpoints: readonly string[], options?: { timeoutMs?: number; stallTimeoutMs?: number }): KeelClient;
}

/** Call once at the top of a test file. */
export function useClusterClients(): ClusterClients {
  let cluster: Cluster | undefined;
  const clients: KeelClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await cluster?.destroy();
    cluster = undefined;
  });
  return {
    async start(options) {
      cluster = await Cluster.start(options);
      return cluster;
    },
    client(endpoints, options = {}) {
      const c = new KeelClient({ endpoints: [...endpoints], timeoutMs: options.timeoutMs ?? 10_000, stallTimeoutMs: options.stallTimeoutMs ?? 1500 });
      clients.push(c);
      return c;
    },
  };
}
