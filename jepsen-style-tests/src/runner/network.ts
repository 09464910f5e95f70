/**
 * `--net`: which `Network` the cluster's peer links run over. This is the one seam for it: the
 * runner asks for a network by name and hands it to `Cluster.start`.
 *
 * - `proxy`: every directed peer link through a proxy of the harness (`ProxyNetwork`);
 * - `netns`: each node in its own network namespace on a bridge, links cut by iptables rules in
 *   the kernel (`NetnsNetwork`: Linux, root, `ip` and `iptables`). Where it cannot run, the
 *   harness's own reason is the error.
 */
import { NetnsNetwork, ProxyNetwork, type Network } from '@keel/test-support';

export const NETS = ['proxy', 'netns'] as const;
export type NetKind = (typeof NETS)[number];

/** A network that cannot be made here (wrong platform, missing privileges or tools). */
export class NetworkUnavailableError extends Error {}

export async function createNetwork(kind: NetKind): Promise<Network> {
  switch (kind) {
    case 'proxy':
      return new ProxyNetwork();
    case 'netns': {
      const availability = await NetnsNetwork.available();
      if (!availability.ok) throw new NetworkUnavailableError(`--net netns: ${availability.reason}`);
      return new NetnsNetwork();
    }
  }
}
