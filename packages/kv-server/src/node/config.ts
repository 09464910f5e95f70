import { LIMITS } from '@keel/protocol';
import type { LogLevel, NodeId } from '@keel/raft';
import { CLIENT_TIMEOUT_DEFAULTS, RESPONSE_BYTES_PER_CONNECTION_DEFAULT, RESPONSE_BYTES_PER_CONNECTION_MIN } from '../client-port/client-port-server.js';
import { SNAPSHOT_CHUNK_BYTES_MIN } from '../storage/snapshot-format.js';
import type { TlsFilePaths } from '../tls/credentials.js';
import { LIVENESS_TIMEOUT_MS_MIN, peerLivenessTimeoutMs } from '../transport/liveness.js';

/** One member of the bootstrap membership: where it listens for peers and for clients. */
export interface InitialMember {
  readonly id: NodeId;
  /** "host:port" other nodes dial to reach this member's peer port. */
  readonly peerAddress: string;
  /** "host:port" clients use; carried in NOT_LEADER hints. */
  readonly clientAddress: string;
}

/** A "host:port" pair to listen on. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Everything one `KeelNode` needs, already validated (`validateNodeConfig`). Times in
 * milliseconds or ticks as the name says; sizes in bytes.
 */
export interface KeelNodeConfig {
  /** This node's id: a positive integer, unique in the cluster. */
  readonly id: NodeId;
  /** Peers of another cluster are refused at the handshake. */
  readonly clusterId: string;
  readonly listenPeer: ListenAddress;
  readonly listenClient: ListenAddress;
  /**
   * Bootstrap membership, used only when the data directory is brand new. Empty when the node
   * joins an existing cluster (it then learns membership from the leader).
   */
  readonly initialCluster: readonly InitialMember[];
  /**
   * Dial-address overrides per peer ("host:port"). A peer not listed is dialled at the
   * `peerAddress` recorded in the membership. A test harness points these at its proxies.
   */
  readonly peerDial: ReadonlyMap<NodeId, string>;
  /** Directory of this node's LevelDB database (created when missing). */
  readonly dataDir: string;
  /** Length of one Raft tick in ms. Default 50. */
  readonly tickMs: number;
  /** Election timeout in ticks (randomized in [n, 2n)). Default 20 (1–2 s at 50 ms ticks). */
  readonly electionTicks: number;
  /** Leader heartbeat interval in ticks. Default 2. Must be below `electionTicks`. */
  readonly heartbeatTicks: number;
  /**
   * Take a snapshot every this many applied entries. Default 10,000. The log is compacted up to
   * `snapshotCatchUpEntries` behind the snapshot point, so a follower a little behind catches up
   * from the log rather than with a whole snapshot.
   */
  readonly snapshotEntries: number;
  /**
   * Revisions of history (what watches replay) kept behind the applied index: the leader
   * compacts the history so that it keeps at least the last `historyRetention` revisions, once
   * it holds a tenth more than that (checked every second). 0 = keep everything (compact by
   * hand with `kvctl compact`). Default 100,000.
   */
  readonly historyRetention: number;
  /** A client request not answered within this many ms fails with TIMEOUT. Default 10,000. */
  readonly requestTimeoutMs: number;
  /** Most proposals waiting for commit on this node before new writes get OVERLOADED. Default 16,384. */
  readonly pendingProposalsMax: number;
  /** Most payload bytes of writes waiting for commit before new writes get OVERLOADED. Default 64 MiB. */
  readonly pendingProposalBytesMax: number;
  /** Most linearizable reads waiting on this node before new reads get OVERLOADED. Default 16,384. */
  readonly pendingReadsMax: number;
  /** Largest snapshot chunk streamed to a follower. Default 1 MiB. */
  readonly snapshotChunkBytes: number;
  /**
   * Most bytes of client proposals the leader holds uncommitted (appended in its term beyond the
   * commit index); past it new writes get OVERLOADED until commits catch up. 0 = no limit.
   * Default 64 MiB (Raft's `maxUncommittedBytes`, etcd's `MaxUncommittedEntriesSize`).
   */
  readonly maxUncommittedBytes: number;
  /** Open client connections; beyond it a newcomer gets OVERLOADED (or takes an idle opener's slot). Default 1,024. */
  readonly maxClientConnections: number;
  /** Response bytes held for one client connection before it stops being read. Default 128 MiB; at least 64 KiB. */
  readonly clientResponseBudgetBytes: number;
  /** A new client connection must send its first request within this many ms. Default 10,000. */
  readonly clientFirstRequestTimeoutMs: number;
  /** A client frame, once begun, must be complete within this many ms (slowloris). Default 10,000. */
  readonly clientFrameTimeoutMs: number;
  /** A client connection with nothing in flight is closed after this many ms. Default 300,000. */
  readonly clientIdleTimeoutMs: number;
  /**
   * A peer connection silent for this many ms is torn down and redialled (and a peer handshake
   * must finish within it). Default: the longest election timeout, 2 × `electionTicks` ×
   * `tickMs`, at least 1,000 (`effectivePeerLivenessTimeoutMs`).
   */
  readonly peerLivenessTimeoutMs?: number;
  /** Request deadlines are swept every this many ms (rounded to whole ticks, at least one). Default 200. */
  readonly sweepIntervalMs: number;
  /** Most committed entries waiting for the apply chain before the Ready loop waits for it. Default 8,192. */
  readonly applyBacklogMax: number;
  /** Interval of the `node.stats` debug line, in ms. Default 10,000. */
  readonly statsIntervalMs: number;
  /** Where the admin HTTP listener (metrics, health, readiness, dashboard) listens; absent: no listener. */
  readonly listenMetrics?: ListenAddress;
  /** `/ready` answers 503 while the applied index is more than this many entries behind the commit index. Default 1,000. */
  readonly readyApplyLagMax: number;
  /** `GET /snapshot` ends a download whose client has taken nothing for this long, in ms (its database snapshot is released). Default 30,000. */
  readonly backupStallMs: number;
  /** Least important log level printed. Default "info". */
  readonly logLevel: LogLevel;
  /**
   * Start even when `initialCluster` disagrees with the membership the data directory was
   * bootstrapped with (the stored membership is used; `initialCluster` is ignored). Default false:
   * such a start is refused, naming both.
   */
  readonly ignoreInitialClusterMismatch: boolean;
  /**
   * TLS, per side; an absent side is plaintext. `peer`: mutual TLS on every peer connection, both
   * ways (its `ca` is required: peers must present a certificate it signed). `client`: the client
   * port speaks TLS with this certificate; with a `ca`, clients must present a certificate it
   * signed. The files are read at start-up and again on SIGHUP (`KeelNode.reloadTls`).
   */
  readonly tls: { readonly peer?: TlsFilePaths; readonly client?: TlsFilePaths };
  /** Also reload the TLS files when they change, polling them every this many ms; absent: only on SIGHUP. */
  readonly tlsWatchMs?: number;
}

/** What the node core needs of the configuration, in ticks where the process thinks in ms. */
export interface NodeCoreConfig {
  readonly id: NodeId;
  /** Length of one tick in ms (lease TTLs are counted in ticks). */
  readonly tickMs: number;
  readonly electionTicks: number;
  /** Take a snapshot every this many applied entries. */
  readonly snapshotEntries: number;
  /** Log entries kept behind each snapshot (see `snapshotCatchUpEntries`). */
  readonly snapshotCatchUpEntries: number;
  /** Revisions of history the leader keeps when it compacts (0: it never does); see `KeelNodeConfig.historyRetention`. */
  readonly historyRetention: number;
  /** The leader checks whether to compact the history every this many ticks. */
  readonly historyCheckTicks: number;
  readonly requestTimeoutTicks: number;
  /** Request deadlines are checked every this many ticks. */
  readonly sweepTicks: number;
  readonly pendingProposalsMax: number;
  readonly pendingProposalBytesMax: number;
  readonly pendingReadsMax: number;
  readonly snapshotChunkBytes: number;
  /** Most committed entries waiting for the apply chain before the Ready loop waits for it. */
  readonly applyBacklogMax: number;
  /** Dial-address overrides per peer. */
  readonly peerDial: ReadonlyMap<NodeId, string>;
}

export function coreConfigOf(config: KeelNodeConfig): NodeCoreConfig {
  return {
    id: config.id,
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    snapshotEntries: config.snapshotEntries,
    snapshotCatchUpEntries: snapshotCatchUpEntries(config),
    historyRetention: config.historyRetention,
    historyCheckTicks: Math.max(1, Math.round(HISTORY_CHECK_MS / config.tickMs)),
    requestTimeoutTicks: Math.max(1, Math.ceil(config.requestTimeoutMs / config.tickMs)),
    sweepTicks: Math.max(1, Math.round(config.sweepIntervalMs / config.tickMs)),
    pendingProposalsMax: config.pendingProposalsMax,
    pendingProposalBytesMax: config.pendingProposalBytesMax,
    pendingReadsMax: config.pendingReadsMax,
    snapshotChunkBytes: config.snapshotChunkBytes,
    applyBacklogMax: config.applyBacklogMax,
    peerDial: config.peerDial,
  };
}

/** The peer liveness timeout a node runs with: the configured one, else derived from its election timeout. */
export function effectivePeerLivenessTimeoutMs(config: Pick<KeelNodeConfig, 'peerLivenessTimeoutMs' | 'electionTicks' | 'tickMs'>): number {
  return config.peerLivenessTimeoutMs ?? peerLivenessTimeoutMs(2 * config.electionTicks * config.tickMs);
}

/** How often the leader checks whether the history is due for compaction, in ms. */
const HISTORY_CHECK_MS = 1000;

/** The defaults of every tunable, in one place. */
export const NODE_DEFAULTS = {
  clusterId: 'keel',
  tickMs: 50,
  electionTicks: 20,
  heartbeatTicks: 2,
  snapshotEntries: 10_000,
  historyRetention: 100_000,
  requestTimeoutMs: 10_000,
  pendingProposalsMax: 16_384,
  pendingProposalBytesMax: 64 * 1024 * 1024,
  pendingReadsMax: 16_384,
  snapshotChunkBytes: 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxClientConnections: LIMITS.clientConnectionsMax,
  clientResponseBudgetBytes: RESPONSE_BYTES_PER_CONNECTION_DEFAULT,
  clientFirstRequestTimeoutMs: CLIENT_TIMEOUT_DEFAULTS.firstRequestTimeoutMs,
  clientFrameTimeoutMs: CLIENT_TIMEOUT_DEFAULTS.frameTimeoutMs,
  clientIdleTimeoutMs: CLIENT_TIMEOUT_DEFAULTS.idleTimeoutMs,
  sweepIntervalMs: 200,
  applyBacklogMax: 8192,
  statsIntervalMs: 10_000,
  readyApplyLagMax: 1000,
  backupStallMs: 30_000,
  logLevel: 'info',
  ignoreInitialClusterMismatch: false,
} as const satisfies Partial<KeelNodeConfig>;

/** Configuration the node cannot run with. The CLI prints `message` and exits with status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Check the cross-field rules of a config whose fields are individually well-formed.
 * Throws `ConfigError` naming the first problem.
 */
export function validateNodeConfig(config: KeelNodeConfig): KeelNodeConfig {
  const fail = (message: string): never => {
    throw new ConfigError(message);
  };
  if (!isPositiveInt(config.id)) fail(`id must be a positive integer, got ${String(config.id)}`);
  if (config.clusterId.length === 0 || config.clusterId.length > 128) fail('cluster id must be 1..128 characters');
  for (const [name, value] of [
    ['tick-ms', config.tickMs],
    ['election-ticks', config.electionTicks],
    ['heartbeat-ticks', config.heartbeatTicks],
    ['snapshot-entries', config.snapshotEntries],
    ['request-timeout-ms', config.requestTimeoutMs],
    ['pending-proposals-max', config.pendingProposalsMax],
    ['pending-proposal-bytes-max', config.pendingProposalBytesMax],
    ['pending-reads-max', config.pendingReadsMax],
    ['snapshot-chunk-bytes', config.snapshotChunkBytes],
    ['max-client-connections', config.maxClientConnections],
    ['client-response-budget-bytes', config.clientResponseBudgetBytes],
    ['client-first-request-timeout-ms', config.clientFirstRequestTimeoutMs],
    ['client-frame-timeout-ms', config.clientFrameTimeoutMs],
    ['client-idle-timeout-ms', config.clientIdleTimeoutMs],
    ['sweep-interval-ms', config.sweepIntervalMs],
    ['apply-backlog-max', config.applyBacklogMax],
    ['stats-interval-ms', config.statsIntervalMs],
    ['ready-apply-lag-max', config.readyApplyLagMax],
    ['backup-stall-ms', config.backupStallMs],
  ] as const) {
    if (!isPositiveInt(value)) fail(`${name} must be a positive integer, got ${String(value)}`);
  }
  if (config.heartbeatTicks >= config.electionTicks) {
    fail(`heartbeat-ticks (${config.heartbeatTicks}) must be less than election-ticks (${config.electionTicks})`);
  }
  if (config.tickMs > 60_000) fail(`tick-ms must be at most 60000, got ${config.tickMs}`);
  if (config.requestTimeoutMs < config.tickMs) fail('request-timeout-ms must be at least one tick');
  if (config.snapshotEntries < 2) fail('snapshot-entries must be at least 2');
  if (config.snapshotChunkBytes < SNAPSHOT_CHUNK_BYTES_MIN || config.snapshotChunkBytes > 8 * 1024 * 1024) {
    fail(`snapshot-chunk-bytes must be in ${SNAPSHOT_CHUNK_BYTES_MIN}..${8 * 1024 * 1024}, got ${config.snapshotChunkBytes}`);
  }
  if (!Number.isSafeInteger(config.historyRetention) || config.historyRetention < 0) {
    fail(`history-retention must be a non-negative integer (0: keep all history), got ${String(config.historyRetention)}`);
  }
  if (!Number.isSafeInteger(config.maxUncommittedBytes) || config.maxUncommittedBytes < 0) {
    fail(`max-uncommitted-bytes must be a non-negative integer (0: no limit), got ${String(config.maxUncommittedBytes)}`);
  }
  if (config.clientResponseBudgetBytes < RESPONSE_BYTES_PER_CONNECTION_MIN) {
    fail(`client-response-budget-bytes must be at least ${RESPONSE_BYTES_PER_CONNECTION_MIN}, got ${config.clientResponseBudgetBytes}`);
  }
  if (config.peerLivenessTimeoutMs !== undefined && (!isPositiveInt(config.peerLivenessTimeoutMs) || config.peerLivenessTimeoutMs < LIVENESS_TIMEOUT_MS_MIN)) {
    fail(`peer-liveness-timeout-ms must be an integer >= ${LIVENESS_TIMEOUT_MS_MIN}, got ${String(config.peerLivenessTimeoutMs)}`);
  }
  if (config.dataDir.length === 0) fail('data-dir is required');
  const ids = new Set<number>();
  for (const m of config.initialCluster) {
    if (!isPositiveInt(m.id)) fail(`initial-cluster: member id must be a positive integer, got ${String(m.id)}`);
    if (ids.has(m.id)) fail(`initial-cluster: duplicate member id ${m.id}`);
    ids.add(m.id);
  }
  if (config.initialCluster.length > 0 && !ids.has(config.id)) {
    fail(`initial-cluster does not contain this node's id ${config.id}`);
  }
  for (const id of config.peerDial.keys()) {
    if (id === config.id) fail(`peers: lists this node's own id ${id} (list the other members only)`);
    if (config.initialCluster.length > 0 && !ids.has(id)) fail(`peers: node ${id} is not in initial-cluster`);
  }
  return config;
}

export function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Log entries kept behind each snapshot for followers that are only a little behind: half the
 * snapshot interval (etcd keeps a fixed 5,000), so the log stays under 1.5 x `snapshotEntries`.
 */
export function snapshotCatchUpEntries(config: Pick<KeelNodeConfig, 'snapshotEntries'>): number {
  return Math.floor(config.snapshotEntries / 2);
}
