/**
 * `--net`: which `Network` the cluster's peer links run over. This is the one seam for it: the
 * runner asks for a network by name and hands it to `Cluster.start`, so a network-namespace
 * implementation plugs in here and nowhere else.
 */
import { ProxyNetwork, type Network } from '@keel/test-support';

export const NETS = ['proxy', 'netns'] as const;
export type NetKind = (typeof NETS)[number];

/** A network that cannot be made here (wrong platform, missing privileges, not built). */
export class NetworkUnavailableError extends Error {}

export function createNetwork(kind: NetKind): Network {
  switch (kind) {
    case 'proxy':
      return new ProxyNetwork();
    case 'netns':
      throw new NetworkUnavailableError('--net netns: the network-namespace network is not part of @keel/test-support yet; use --net proxy');
  }
}
