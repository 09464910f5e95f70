/**
 * The node's Prometheus metrics (prom-client), named by Prometheus conventions: a `keel_` prefix,
 * units in the name (`_seconds`, `_bytes`), `_total` on counters, histograms for latencies and
 * batch sizes. The README's metrics table lists every one.
 *
 * Two kinds of input:
 * - events, counted as they happen: the node core's observer calls (Readies, snapshots,
 *   proposals), the transport's traffic calls, client requests and synced disk writes, each
 *   timed by the adapter that sees it;
 * - state, read at scrape time from `MetricsSource` (term, role, indexes, pending requests,
 *   peer links, open connections), so a gauge is never stale.
 *
 * Part of the process adapter: wall-clock time is measured here, never in the node core.
 */
import type { ErrorCode, NodeStatus } from '@keel/protocol';
import type { Entry, Message, NodeId, Ready } from '@keel/raft';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeObserver } from '../node/ports.js';
import type { PeerTraffic } from '../transport/index.js';

/** What the metrics read at scrape time. */
export interface MetricsSource {
  status(): NodeStatus;
  /** Index of the latest snapshot (the log base). */
  snapshotIndex(): number;
  /** Requests waiting on the node core. */
  pending(): { readonly proposals: number; readonly reads: number };
  /** Every other member, and whether this node's Raft connection to it is up. */
  peers(): ReadonlyArray<{ readonly id: NodeId; readonly reachable: boolean }>;
  /** The client port's connections: open now, refused and evicted since start. */
  clientConnections(): { readonly open: number; readonly refused: number; readonly evicted: number };
}

/** Client request latencies, in seconds: 0.5 ms to 10 s. */
export const REQUEST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Synced write latencies, in seconds: 0.5 ms to about 4 s, doubling (as etcd's WAL fsync histogram). */
const FSYNC_SECONDS_BUCKETS = [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096];
const BATCH_ENTRIES_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const BATCH_BYTES_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];
const ROLES: ReadonlyArray<NodeStatus['role']> = ['follower', 'preCandidate', 'candidate', 'leader'];

/** Cumulative count of client requests answered, and of those at or below each latency bucket. */
export interface RequestTotals {
  readonly count: number;
  /** `[upper bound in seconds, cumulative count]` per bucket, ascending; the last bound is +Inf. */
  readonly buckets: ReadonlyArray<readonly [number, number]>;
}

export class NodeMetrics implements NodeObserver, PeerTraffic {
  readonly registry = new Registry();
  private readonly requests: Counter<'op' | 'code'>;
  private readonly requestSeconds: Histogram<'op'>;
  private readonly proposalsCommitted: Counter;
  private readonly proposalsFailed: Counter<'code'>;
  private readonly fsyncSeconds: Histogram;
  private readonly batchEntries: Histogram;
  private readonly batchBytes: Histogram;
  private readonly leaderChanges: Counter;
  private readonly messagesSent: Counter<'peer' | 'type'>;
  private readonly messagesReceived: Counter<'peer' | 'type'>;
  private readonly messagesDropped: Counter<'peer' | 'type'>;
  private readonly snapshotSends: Counter<'result'>;
  private readonly snapshotInstalls: Counter;
  private readonly snapshotsTaken: Counter;
  private leader: NodeId = 0;

  constructor(source: MetricsSource, identity: { readonly nodeId: NodeId; readonly clusterId: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    new Gauge({ name: 'keel_node_info', help: 'Always 1; labels name the node and its cluster.', labelNames: ['node_id', 'cluster_id'], registers }).set(
      { node_id: String(identity.nodeId), cluster_id: identity.clusterId },
      1,
    );
    gauge('keel_raft_term', 'Current Raft term.', () => source.status().term);
    new Gauge({
      name: 'keel_raft_role',
      help: 'Raft role of this node: 1 for the current role, 0 for the others.',
      labelNames: ['role'],
      registers,
      collect() {
        const role = source.status().role;
        for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
    gauge('keel_raft_leader_id', 'Id of the leader this node knows, 0 when none.', () => source.status().leader);
    gauge('keel_raft_is_leader', '1 when this node is the leader, else 0.', () => (source.status().role === 'leader' ? 1 : 0));
    gauge('keel_raft_commit_index', 'Highest log index known to be committed.', () => source.status().commit);
    gauge('keel_raft_applied_index', 'Highest log index applied to the state machine (the revision reads see).', () => source.status().applied);
    gauge('keel_raft_last_index', 'Last index in the log.', () => source.status().lastIndex);
    gauge('keel_raft_snapshot_index', 'Index of the latest snapshot; the log is compacted behind it.', () => source.snapshotIndex());
    gauge('keel_proposals_pending', 'Proposals of this node waiting to commit and apply.', () => source.pending().proposals);
    gauge('keel_reads_pending', 'Linearizable reads waiting for their read index to apply.', () => source.pending().reads);
    gauge('keel_client_connections', 'Open client connections.', () => source.clientConnections().open);
    new Counter({
      name: 'keel_client_connections_refused_total',
      help: 'Client connections refused or evicted because --max-client-connections were open.',
      labelNames: ['reason'],
      registers,
      collect() {
        const c = source.clientConnections();
        this.reset();
        this.inc({ reason: 'refused' }, c.refused);
        this.inc({ reason: 'evicted' }, c.evicted);
      },
    });
    new Gauge({
      name: 'keel_peer_reachable',
      help: "1 while this node's Raft connection to the peer is up (handshake done), else 0.",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of source.peers()) this.set({ peer: String(p.id) }, p.reachable ? 1 : 0);
      },
    });

    this.requests = new Counter({
      name: 'keel_client_requests_total',
      help: 'Client requests answered, by operation and result code (OK, or the error code).',
      labelNames: ['op', 'code'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'keel_client_request_duration_seconds',
      help: 'Time from a validated client request to its answer, by operation.',
      labelNames: ['op'],
      buckets: REQUEST_SECONDS_BUCKETS,
      registers,
    });
    this.proposalsCommitted = new Counter({
      name: 'keel_proposals_committed_total',
      help: 'Proposals of this node (writes, membership changes) that committed and applied.',
      registers,
    });
    this.proposalsFailed = new Counter({
      name: 'keel_proposals_failed_total',
      help: 'Proposals of this node that failed, by error code (refused, lost to another leader, or timed out).',
      labelNames: ['code'],
      registers,
    });
    this.fsyncSeconds = new Histogram({
      name: 'keel_disk_fsync_duration_seconds',
      help: 'Time of each synced write to the database (the batch and its fsync).',
      buckets: FSYNC_SECONDS_BUCKETS,
      registers,
    });
    this.batchEntries = new Histogram({
      name: 'keel_persist_batch_entries',
      help: 'Log entries per persisted Ready (one write batch: group commit).',
      buckets: BATCH_ENTRIES_BUCKETS,
      registers,
    });
    this.batchBytes = new Histogram({
      name: 'keel_persist_batch_bytes',
      help: 'Payload bytes of the log entries per persisted Ready.',
      buckets: BATCH_BYTES_BUCKETS,
      registers,
    });
    this.leaderChanges = new Counter({
      name: 'keel_raft_leader_changes_total',
      help: 'Times this node saw a new leader (a leader id other than the last one, and not none).',
      registers,
    });
    const peerCounter = (name: string, help: string): Counter<'peer' | 'type'> => new Counter({ name, help, labelNames: ['peer', 'type'], registers });
    this.messagesSent = peerCounter('keel_peer_messages_sent_total', 'Raft messages queued for a peer, by peer and message type.');
    this.messagesReceived = peerCounter('keel_peer_messages_received_total', 'Raft messages received from a peer, by peer and message type.');
    this.messagesDropped = peerCounter(
      'keel_peer_messages_dropped_total',
      'Raft messages to a peer dropped (link down, send queue full, or too large), by peer and message type.',
    );
    this.snapshotSends = new Counter({
      name: 'keel_snapshot_sends_total',
      help: 'Snapshots streamed to lagging followers, by result (success: installed by the follower, failure).',
      labelNames: ['result'],
      registers,
    });
    this.snapshotInstalls = new Counter({
      name: 'keel_snapshot_installs_total',
      help: "Snapshots received from the leader and installed (this node's state machine replaced).",
      registers,
    });
    this.snapshotsTaken = new Counter({
      name: 'keel_snapshots_taken_total',
      help: 'Local snapshots that compacted the log.',
      registers,
    });
  }

  /** The metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A client request was answered with `code` ('OK' on success) after `seconds`. */
  request(op: string, code: ErrorCode | 'OK', seconds: number): void {
    this.requests.inc({ op, code });
    this.requestSeconds.observe({ op }, seconds);
  }

  /** A synced write to the database took `seconds`. */
  synced(seconds: number): void {
    this.fsyncSeconds.observe(seconds);
  }

  /** Client requests of the operations `ops` answered so far, and their latencies per bucket. */
  async requestTotals(ops: ReadonlySet<string>): Promise<RequestTotals> {
    const perBound = new Map<number, number>();
    let count = 0;
    for (const v of (await this.requestSeconds.get()).values) {
      if (!ops.has(String(v.labels.op))) continue;
      if (v.metricName?.endsWith('_bucket') === true) {
        const le = (v.labels as Record<string, string | number | undefined>)['le'];
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
        perBound.set(bound, (perBound.get(bound) ?? 0) + v.value);
      } else if (v.metricName?.endsWith('_count') === true) {
        count += v.value;
      }
    }
    return { count, buckets: [...perBound].sort((a, b) => a[0] - b[0]) };
  }

  // --- NodeObserver ------------------------------------------------------------------------

  ready(rd: Ready): void {
    const leader = rd.softState?.leader;
    if (leader !== undefined && leader !== this.leader) {
      if (leader !== 0) this.leaderChanges.inc();
      this.leader = leader;
    }
    if (rd.entries.length > 0) {
      this.batchEntries.observe(rd.entries.length);
      this.batchBytes.observe(payloadBytes(rd.entries));
    }
  }

  snapshotTaken(): void {
    this.snapshotsTaken.inc();
  }

  snapshotInstalled(): void {
    this.snapshotInstalls.inc();
  }

  proposalCommitted(): void {
    this.proposalsCommitted.inc();
  }

  proposalFailed(code: ErrorCode): void {
    this.proposalsFailed.inc({ code });
  }

  // --- PeerTraffic -------------------------------------------------------------------------

  messageQueued(to: NodeId, type: Message['type']): void {
    this.messagesSent.inc({ peer: String(to), type });
  }

  messageDropped(to: NodeId, type: Message['type']): void {
    this.messagesDropped.inc({ peer: String(to), type });
  }

  messageReceived(from: NodeId, type: Message['type']): void {
    this.messagesReceived.inc({ peer: String(from), type });
  }

  snapshotSent(_to: NodeId, ok: boolean): void {
    this.snapshotSends.inc({ result: ok ? 'success' : 'failure' });
  }
}

function payloadBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const e of entries) bytes += e.type === 'normal' ? e.data.byteLength : (e.change.context?.byteLength ?? 0);
  return bytes;
}
