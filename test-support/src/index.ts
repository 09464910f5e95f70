/**
 * @keel/test-support — the one cluster harness of the repository (private; never a dependency of
 * the shipped packages). Real `keel-server` processes on 127.0.0.1, network faults through
 * proxies the harness owns (or, as root, in network namespaces with iptables rules), logs in
 * memory and on disk, cleanup by PID. The integration tests,
 * the Jepsen-style runner, benchmarks and `pnpm cluster` all build on it; see README.md.
 *
 * @example
 * ```ts
 * import { Cluster } from '@keel/test-support';
 *
 * const cluster = await Cluster.start({ nodes: 3, network: 'proxy' });
 * try {
 *   const { id: leader } = await cluster.waitForLeader();
 *   cluster.isolate(leader, 'blackhole');
 *   await cluster.waitForLeader({ among: cluster.ids.filter((id) => id !== leader) });
 *   cluster.heal();
 * } finally {
 *   await cluster.destroy();
 * }
 * ```
 */
export { ADMIN_PORT_OFFSET, Cluster, PEER_PORT_OFFSET } from './cluster.js';
export type { ClusterOptions, LogLevel, NodeReport } from './cluster.js';
export { ClusterNode, STOP_GRACE_MS } from './cluster-node.js';
export type { Membership, NodeState } from './cluster-node.js';
export { NodeProcess, cleanEnv, describeExit, runServer } from './node-process.js';
/** Whether a pid runs (a zombie does not): the server's own check, the one its data dir lock uses. */
export { isProcessAlive as isAlive } from '@keel/kv-server';
export type { ExitInfo, LogLine, OutputStream, SpawnServerOptions } from './node-process.js';
export { CUT_MODES, NETWORK_KINDS, splitAddress } from './network/network.js';
export type { Cut, CutMode, FixedPorts, Network, NetworkKind, NodeAddresses } from './network/network.js';
export { DirectNetwork } from './network/direct.js';
export { ProxyNetwork } from './network/proxy.js';
export type { ProxyNetworkOptions } from './network/proxy.js';
export { NETNS_CLIENT_PORT, NETNS_PEER_PORT, NetnsNetwork } from './network/netns.js';
export type { NetnsAvailability } from './network/netns/available.js';
export type { Leftovers } from './network/netns/leftovers.js';
export { bridge, isolationCuts, majorityMinority, partitionCuts, ring } from './network/topology.js';
export type { Link } from './network/topology.js';
export { DataRootInUseError, clearDataRoot, holdersUnder, nodeDataDir } from './data-root.js';
export type { HeldDataDir } from './data-root.js';
export { freeBasePort, freePort, freePorts, portsInUse } from './ports.js';
export { runNode } from './run-node.js';
export type { RunResult } from './run-node.js';
export { CLUSTER_CLI, KVCTL_BIN, ROOT, SERVER_BIN, SERVER_NODE_FLAGS, requireBuilt } from './paths.js';
export { TEST_TUNING } from './tuning.js';
export { waitForProgress } from './wait.js';
export type { ProgressWaitOptions } from './wait.js';
export { treeCpuTicks } from './process-cpu.js';
export { createCa, issueCertificate } from './tls/certificates.js';
export type { CertificateAndKey, CertificateAuthority, LeafOptions, Validity } from './tls/certificates.js';
export { clusterCa, kvctlTlsArgs, serverTlsArgs, writeClusterTls } from './tls/cluster-tls.js';
export type { ClusterTls } from './tls/cluster-tls.js';
