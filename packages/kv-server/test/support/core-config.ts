/**
 * The configuration of a node core that a test drives directly (one `NodeCore` over real stores,
 * ticked by the test): snapshots and history retention out of the way, small queues, generous
 * request timeouts. One place, so a new `NodeCoreConfig` field is added once for every such test.
 */
import type { NodeId } from '@keel/raft';
import type { NodeCoreConfig } from '../../src/node/config.js';

export function testCoreConfig(id: NodeId, electionTicks: number): NodeCoreConfig {
  return {
    id,
    tickMs: 50,
    electionTicks,
    snapshotEntries: 1_000_000,
    snapshotCatchUpEntries: 0,
    historyRetention: 0,
    historyCheckTicks: 10,
    requestTimeoutTicks: 1_000,
    sweepTicks: 10,
    pendingProposalsMax: 100,
    pendingProposalBytesMax: 1 << 20,
    pendingReadsMax: 100,
    snapshotChunkBytes: 1 << 16,
    applyBacklogMax: 8192,
    peerDial: new Map(),
  };
}
