import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { LogLevel, NodeId } from '@keel/raft';
import {
  ConfigError,
  LOG_LEVELS,
  NODE_DEFAULTS,
  validateNodeConfig,
  type InitialMember,
  type KeelNodeConfig,
  type ListenAddress,
} from '../node/config.js';
import type { TlsFilePaths } from '../tls/credentials.js';

/**
 * The `keel-server` command line. Every option can also come from an environment variable or a
 * JSON config file; precedence is command line > environment > config file > default.
 * Everything is validated here, once; a problem becomes one `ConfigError`.
 */

/** One configurable setting: its flag, environment variable and config-file key. */
interface Setting {
  readonly key: ConfigKey;
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  readonly boolean?: boolean;
}

type ConfigKey =
  | 'id'
  | 'clusterId'
  | 'listenPeer'
  | 'listenClient'
  | 'initialCluster'
  | 'join'
  | 'peers'
  | 'dataDir'
  | 'tickMs'
  | 'electionTicks'
  | 'heartbeatTicks'
  | 'snapshotEntries'
  | 'historyRetention'
  | 'requestTimeoutMs'
  | 'pendingProposalsMax'
  | 'pendingProposalBytesMax'
  | 'pendingReadsMax'
  | 'snapshotChunkBytes'
  | 'maxUncommittedBytes'
  | 'maxClientConnections'
  | 'clientResponseBudgetBytes'
  | 'clientFirstRequestTimeoutMs'
  | 'clientFrameTimeoutMs'
  | 'clientIdleTimeoutMs'
  | 'peerLivenessTimeoutMs'
  | 'sweepIntervalMs'
  | 'applyBacklogMax'
  | 'statsIntervalMs'
  | 'listenMetrics'
  | 'readyApplyLagMax'
  | 'backupStallMs'
  | 'logLevel'
  | 'ignoreInitialClusterMismatch'
  | 'tlsWatchMs'
  | TlsKey;

type TlsKey = 'peerCert' | 'peerKey' | 'peerCa' | 'clientCert' | 'clientKey' | 'clientCa';

const SETTINGS: readonly Setting[] = [
  { key: 'id', flag: '--id <id>', env: 'KEEL_ID', description: "this node's id (positive integer, unique in the cluster)" },
  {
    key: 'clusterId',
    flag: '--cluster-id <name>',
    env: 'KEEL_CLUSTER_ID',
    description: `cluster name checked at every peer handshake (default "${NODE_DEFAULTS.clusterId}")`,
  },
  {
    key: 'initialCluster',
    flag: '--initial-cluster <members>',
    env: 'KEEL_INITIAL_CLUSTER',
    description:
      'bootstrap membership, written as the first log entries when the data dir is new: comma-separated ' +
      'id=peerHost:peerPort/clientHost:clientPort, e.g. "1=127.0.0.1:7101/127.0.0.1:7001,2=127.0.0.1:7102/127.0.0.1:7002"; ' +
      'a restart with a different one is refused (see --ignore-initial-cluster-mismatch)',
  },
  {
    key: 'ignoreInitialClusterMismatch',
    flag: '--ignore-initial-cluster-mismatch',
    env: 'KEEL_IGNORE_INITIAL_CLUSTER_MISMATCH',
    boolean: true,
    description:
      'start even if --initial-cluster differs from the membership the data dir was bootstrapped with ' +
      '(the stored membership is used and --initial-cluster is ignored)',
  },
  {
    key: 'join',
    flag: '--join',
    env: 'KEEL_JOIN',
    boolean: true,
    description:
      'start with no membership and wait to be added by an existing cluster (instead of --initial-cluster); ' +
      'the node advertises --listen-peer/--listen-client and learns the members\' addresses when they connect (no --peers needed)',
  },
  {
    key: 'listenPeer',
    flag: '--listen-peer <host:port>',
    env: 'KEEL_LISTEN_PEER',
    description: "where to listen for peers (default: this node's peer address in --initial-cluster)",
  },
  {
    key: 'listenClient',
    flag: '--listen-client <host:port>',
    env: 'KEEL_LISTEN_CLIENT',
    description: "where to listen for clients (default: this node's client address in --initial-cluster)",
  },
  {
    key: 'peers',
    flag: '--peers <list>',
    env: 'KEEL_PEERS',
    description:
      'addresses to DIAL per peer, overriding the membership: comma-separated id=host:port, e.g. "2=127.0.0.1:9102" ' +
      '(a test harness points these at its proxies)',
  },
  { key: 'dataDir', flag: '--data-dir <dir>', env: 'KEEL_DATA_DIR', description: 'directory for the LevelDB database (created if missing)' },
  {
    key: 'tickMs',
    flag: '--tick-ms <ms>',
    env: 'KEEL_TICK_MS',
    description: `length of one Raft tick in ms (default ${NODE_DEFAULTS.tickMs})`,
  },
  {
    key: 'electionTicks',
    flag: '--election-ticks <n>',
    env: 'KEEL_ELECTION_TICKS',
    description: `election timeout in ticks, randomized in [n, 2n) (default ${NODE_DEFAULTS.electionTicks})`,
  },
  {
    key: 'heartbeatTicks',
    flag: '--heartbeat-ticks <n>',
    env: 'KEEL_HEARTBEAT_TICKS',
    description: `leader heartbeat interval in ticks, below --election-ticks (default ${NODE_DEFAULTS.heartbeatTicks})`,
  },
  {
    key: 'snapshotEntries',
    flag: '--snapshot-entries <n>',
    env: 'KEEL_SNAPSHOT_ENTRIES',
    description: `snapshot and compact the log every n applied entries (default ${NODE_DEFAULTS.snapshotEntries})`,
  },
  {
    key: 'historyRetention',
    flag: '--history-retention <n>',
    env: 'KEEL_HISTORY_RETENTION',
    description:
      'revisions of change history (what watches replay) to keep: the leader compacts older history once ' +
      `there is a tenth more; 0 keeps everything (default ${NODE_DEFAULTS.historyRetention})`,
  },
  {
    key: 'requestTimeoutMs',
    flag: '--request-timeout-ms <ms>',
    env: 'KEEL_REQUEST_TIMEOUT_MS',
    description: `client requests not answered in this time fail with TIMEOUT (default ${NODE_DEFAULTS.requestTimeoutMs})`,
  },
  {
    key: 'pendingProposalsMax',
    flag: '--pending-proposals-max <n>',
    env: 'KEEL_PENDING_PROPOSALS_MAX',
    description: `writes waiting for commit before new ones get OVERLOADED (default ${NODE_DEFAULTS.pendingProposalsMax})`,
  },
  {
    key: 'pendingProposalBytesMax',
    flag: '--pending-proposal-bytes-max <n>',
    env: 'KEEL_PENDING_PROPOSAL_BYTES_MAX',
    description: `bytes of writes waiting for commit before new ones get OVERLOADED (default ${NODE_DEFAULTS.pendingProposalBytesMax})`,
  },
  {
    key: 'pendingReadsMax',
    flag: '--pending-reads-max <n>',
    env: 'KEEL_PENDING_READS_MAX',
    description: `linearizable reads waiting before new ones get OVERLOADED (default ${NODE_DEFAULTS.pendingReadsMax})`,
  },
  {
    key: 'snapshotChunkBytes',
    flag: '--snapshot-chunk-bytes <n>',
    env: 'KEEL_SNAPSHOT_CHUNK_BYTES',
    description: `largest snapshot chunk sent to a follower, in bytes (default ${NODE_DEFAULTS.snapshotChunkBytes})`,
  },
  {
    key: 'maxUncommittedBytes',
    flag: '--max-uncommitted-bytes <n>',
    env: 'KEEL_MAX_UNCOMMITTED_BYTES',
    description:
      `bytes of writes a leader holds appended but not yet committed before new ones get OVERLOADED; 0: no limit ` +
      `(default ${NODE_DEFAULTS.maxUncommittedBytes})`,
  },
  {
    key: 'maxClientConnections',
    flag: '--max-client-connections <n>',
    env: 'KEEL_MAX_CLIENT_CONNECTIONS',
    description: `open client connections; a newcomer beyond them gets OVERLOADED unless an idle opener makes room (default ${NODE_DEFAULTS.maxClientConnections})`,
  },
  {
    key: 'clientResponseBudgetBytes',
    flag: '--client-response-budget-bytes <n>',
    env: 'KEEL_CLIENT_RESPONSE_BUDGET_BYTES',
    description:
      `response bytes held for one client connection before the node stops reading it until they drain ` +
      `(default ${NODE_DEFAULTS.clientResponseBudgetBytes}, at least 65536)`,
  },
  {
    key: 'clientFirstRequestTimeoutMs',
    flag: '--client-first-request-timeout-ms <ms>',
    env: 'KEEL_CLIENT_FIRST_REQUEST_TIMEOUT_MS',
    description: `a new client connection that sends no request in this time is closed (default ${NODE_DEFAULTS.clientFirstRequestTimeoutMs})`,
  },
  {
    key: 'clientFrameTimeoutMs',
    flag: '--client-frame-timeout-ms <ms>',
    env: 'KEEL_CLIENT_FRAME_TIMEOUT_MS',
    description: `a request frame not finished this long after it began gets TIMEOUT and its connection is closed (default ${NODE_DEFAULTS.clientFrameTimeoutMs})`,
  },
  {
    key: 'clientIdleTimeoutMs',
    flag: '--client-idle-timeout-ms <ms>',
    env: 'KEEL_CLIENT_IDLE_TIMEOUT_MS',
    description: `a client connection with nothing in flight for this long is closed (default ${NODE_DEFAULTS.clientIdleTimeoutMs})`,
  },
  {
    key: 'peerLivenessTimeoutMs',
    flag: '--peer-liveness-timeout-ms <ms>',
    env: 'KEEL_PEER_LIVENESS_TIMEOUT_MS',
    description:
      'a peer connection silent this long is torn down and redialled, and a peer handshake must finish within it ' +
      '(default: the longest election timeout, 2 x --election-ticks x --tick-ms, at least 1000)',
  },
  {
    key: 'sweepIntervalMs',
    flag: '--sweep-interval-ms <ms>',
    env: 'KEEL_SWEEP_INTERVAL_MS',
    description: `how often request deadlines are checked, rounded to whole ticks (default ${NODE_DEFAULTS.sweepIntervalMs})`,
  },
  {
    key: 'applyBacklogMax',
    flag: '--apply-backlog-max <n>',
    env: 'KEEL_APPLY_BACKLOG_MAX',
    description: `committed entries waiting to be applied before the node stops taking new Raft work until they are (default ${NODE_DEFAULTS.applyBacklogMax})`,
  },
  {
    key: 'statsIntervalMs',
    flag: '--stats-interval-ms <ms>',
    env: 'KEEL_STATS_INTERVAL_MS',
    description: `interval of the node.stats debug log line (default ${NODE_DEFAULTS.statsIntervalMs})`,
  },
  {
    key: 'listenMetrics',
    flag: '--listen-metrics <host:port>',
    env: 'KEEL_LISTEN_METRICS',
    description:
      'serve the admin HTTP listener here: /metrics (Prometheus), /health, /ready and the dashboard at / ' +
      '(default: off; no authentication, so keep it on a loopback or private address)',
  },
  {
    key: 'readyApplyLagMax',
    flag: '--ready-apply-lag-max <n>',
    env: 'KEEL_READY_APPLY_LAG_MAX',
    description: `/ready answers 503 while the applied index is more than n entries behind the commit index (default ${NODE_DEFAULTS.readyApplyLagMax})`,
  },
  {
    key: 'backupStallMs',
    flag: '--backup-stall-ms <ms>',
    env: 'KEEL_BACKUP_STALL_MS',
    description: `GET /snapshot ends a download whose client takes nothing for this long, releasing its database snapshot (default ${NODE_DEFAULTS.backupStallMs})`,
  },
  {
    key: 'logLevel',
    flag: '--log-level <level>',
    env: 'KEEL_LOG_LEVEL',
    description: `least important log level printed: ${LOG_LEVELS.join(', ')} (default ${NODE_DEFAULTS.logLevel})`,
  },
  {
    key: 'peerCert',
    flag: '--peer-cert <file>',
    env: 'KEEL_PEER_CERT',
    description: "PEM certificate this node presents to its peers: mutual TLS on every peer link (with --peer-key and --peer-ca)",
  },
  { key: 'peerKey', flag: '--peer-key <file>', env: 'KEEL_PEER_KEY', description: 'PEM private key of --peer-cert' },
  {
    key: 'peerCa',
    flag: '--peer-ca <file>',
    env: 'KEEL_PEER_CA',
    description: 'PEM CA certificate(s): a peer is accepted only with a certificate signed by one of them',
  },
  {
    key: 'clientCert',
    flag: '--client-cert <file>',
    env: 'KEEL_CLIENT_CERT',
    description: 'PEM certificate of the client port: clients connect with TLS and verify it (with --client-key)',
  },
  { key: 'clientKey', flag: '--client-key <file>', env: 'KEEL_CLIENT_KEY', description: 'PEM private key of --client-cert' },
  {
    key: 'clientCa',
    flag: '--client-ca <file>',
    env: 'KEEL_CLIENT_CA',
    description: 'PEM CA certificate(s): when given, every client must present a certificate signed by one of them',
  },
  {
    key: 'tlsWatchMs',
    flag: '--tls-watch-ms <ms>',
    env: 'KEEL_TLS_WATCH_MS',
    description: 'also reload the TLS files when they change, checking every ms milliseconds (default: only on SIGHUP)',
  },
];

const CONFIG_FILE_ENV = 'KEEL_CONFIG';

const HELP_AFTER = `
Every option may also be set in the environment (the variable is shown after each option) or in
a JSON file given with --config, whose keys are the camelCase option names, e.g.
  {"id": 1, "initialCluster": "1=127.0.0.1:7101/127.0.0.1:7001,...", "dataDir": "/var/lib/keel/1", "tickMs": 50}
("initialCluster" may also be an array of {"id", "peerAddress", "clientAddress"}; "peers" an object {"2": "host:port"}).
Precedence: command line, then environment, then config file, then defaults.

TLS: the certificate, key and CA files are read at start-up and again on SIGHUP, or when they
change with --tls-watch-ms (new connections use the new ones; a file that cannot be used is logged
and the old certificates kept).

Logs: one JSON object per line on stdout, with ts, level, event, nodeId, term and role.
Exit status (a failure is named in one line on stderr): 0 after a clean shutdown (SIGTERM/SIGINT),
1 on any other failure, 2 on bad configuration, 3 when the data directory is in use by another
running process (its keel.lock names it), 4 when the disk is full, 5 when a listen address is in
use or not available, 6 when the data directory is damaged.

Example (node 1 of 3; clients on 7001-7003 as kvctl expects, peers on 7101-7103, as \`pnpm cluster\` does):
  keel-server --id 1 --data-dir /tmp/keel1 \\
    --initial-cluster 1=127.0.0.1:7101/127.0.0.1:7001,2=127.0.0.1:7102/127.0.0.1:7002,3=127.0.0.1:7103/127.0.0.1:7003
Example (a fourth node, then \`kvctl member add-learner 4 127.0.0.1:7104 127.0.0.1:7004\`):
  keel-server --id 4 --data-dir /tmp/keel4 --join --listen-peer 127.0.0.1:7104 --listen-client 127.0.0.1:7004

To seed a new cluster's data directories from a backup (\`kvctl snapshot save\`), see
  keel-server restore --help
`;

/** Build the commander program (exposed for `--help` tests). */
export function buildProgram(): Command {
  const program = new Command('keel-server')
    .description('Run one Keel node: Raft-replicated key-value store over TCP with a LevelDB state machine.')
    .helpOption('-h, --help', 'show this help')
    .addOption(new Option('--config <file.json>', 'read settings from a JSON file').env(CONFIG_FILE_ENV));
  for (const s of SETTINGS) {
    // Boolean flags read their variable here (commander would treat KEEL_JOIN=0 as set).
    program.addOption(s.boolean ? new Option(s.flag, `${s.description} (env: ${s.env}=1)`) : new Option(s.flag, s.description).env(s.env));
  }
  program.addHelpText('after', HELP_AFTER);
  program.allowExcessArguments(false);
  // Errors become one line printed by the caller (exit 2), not commander's own output and exit.
  program.exitOverride();
  program.configureOutput({ outputError: () => undefined });
  return program;
}

/** Where a raw setting came from, for error messages. */
export interface Raw {
  readonly value: unknown;
  readonly origin: string;
}

/**
 * Parse `argv` (without the node and script paths) and `env` into a validated config.
 * Throws `ConfigError` on any problem, or a commander `CommanderError` for --help/usage errors.
 */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv, program = buildProgram()): KeelNodeConfig {
  const saved = { ...process.env };
  // commander reads option env variables from process.env; point it at `env` while parsing.
  for (const s of [...SETTINGS.map((x) => x.env), CONFIG_FILE_ENV]) {
    if (env[s] === undefined) delete process.env[s];
    else process.env[s] = env[s];
  }
  try {
    program.parse([...argv], { from: 'user' });
  } finally {
    for (const s of [...SETTINGS.map((x) => x.env), CONFIG_FILE_ENV]) {
      if (saved[s] === undefined) delete process.env[s];
      else process.env[s] = saved[s];
    }
  }
  const opts = program.opts<Record<string, unknown>>();
  const file = opts['config'] === undefined ? {} : readConfigFile(String(opts['config']));
  const raw = (s: Setting): Raw | undefined => {
    const source = program.getOptionValueSource(s.key);
    if (source === 'cli') return { value: opts[s.key], origin: s.flag.split(' ')[0]! };
    if (source === 'env') return { value: opts[s.key], origin: `environment ${s.env}` };
    if (s.boolean && env[s.env] !== undefined) return { value: parseBoolean(env[s.env], s.env), origin: `environment ${s.env}` };
    if (Object.hasOwn(file, s.key)) return { value: file[s.key], origin: `config file key "${s.key}"` };
    return undefined;
  };
  const get = (key: ConfigKey): Raw | undefined => raw(SETTINGS.find((s) => s.key === key)!);

  const idRaw = get('id');
  if (idRaw === undefined) throw new ConfigError('--id is required (or KEEL_ID, or "id" in the config file)');
  const id = parseInteger(idRaw, 1);
  const dataDirRaw = get('dataDir');
  if (dataDirRaw === undefined) throw new ConfigError('--data-dir is required (or KEEL_DATA_DIR, or "dataDir" in the config file)');
  const dataDir = parseString(dataDirRaw);

  const join = get('join') === undefined ? false : parseBool(get('join')!);
  const clusterRaw = get('initialCluster');
  if (join && clusterRaw !== undefined) throw new ConfigError('--join and --initial-cluster are mutually exclusive');
  if (!join && clusterRaw === undefined) {
    throw new ConfigError('--initial-cluster is required to bootstrap (or --join to be added to a running cluster)');
  }
  const initialCluster = clusterRaw === undefined ? [] : parseInitialCluster(clusterRaw);
  const self = initialCluster.find((m) => m.id === id);
  if (!join && self === undefined) {
    throw new ConfigError(`--initial-cluster does not contain this node's id ${id}`);
  }
  const listenPeerRaw = get('listenPeer');
  const listenClientRaw = get('listenClient');
  if (listenPeerRaw === undefined && self === undefined) throw new ConfigError('--listen-peer is required with --join');
  if (listenClientRaw === undefined && self === undefined) throw new ConfigError('--listen-client is required with --join');
  const listenPeer = listenPeerRaw !== undefined ? parseListen(listenPeerRaw) : parseAddress(self!.peerAddress, 'initial-cluster');
  const listenClient =
    listenClientRaw !== undefined ? parseListen(listenClientRaw) : parseAddress(self!.clientAddress, 'initial-cluster');
  if (listenPeer.port === listenClient.port && sameHost(listenPeer.host, listenClient.host)) {
    throw new ConfigError(`the peer and client ports are the same (${listenPeer.host}:${listenPeer.port})`);
  }

  const num = (key: ConfigKey, fallback: number, min = 1): number => {
    const r = get(key);
    return r === undefined ? fallback : parseInteger(r, min);
  };
  const peerLivenessRaw = get('peerLivenessTimeoutMs');
  const listenMetricsRaw = get('listenMetrics');
  const listenMetrics = listenMetricsRaw === undefined ? undefined : parseListen(listenMetricsRaw);
  for (const [what, other] of [['peer', listenPeer], ['client', listenClient]] as const) {
    if (listenMetrics !== undefined && listenMetrics.port === other.port && sameHost(listenMetrics.host, other.host)) {
      throw new ConfigError(`--listen-metrics and the ${what} port are the same (${other.host}:${other.port})`);
    }
  }
  const peersRaw = get('peers');
  const logLevelRaw = get('logLevel');
  const clusterIdRaw = get('clusterId');
  const config: KeelNodeConfig = {
    id,
    clusterId: clusterIdRaw === undefined ? NODE_DEFAULTS.clusterId : parseString(clusterIdRaw),
    listenPeer,
    listenClient,
    initialCluster,
    peerDial: peersRaw === undefined ? new Map() : parsePeers(peersRaw),
    dataDir,
    tickMs: num('tickMs', NODE_DEFAULTS.tickMs),
    electionTicks: num('electionTicks', NODE_DEFAULTS.electionTicks),
    heartbeatTicks: num('heartbeatTicks', NODE_DEFAULTS.heartbeatTicks),
    snapshotEntries: num('snapshotEntries', NODE_DEFAULTS.snapshotEntries),
    historyRetention: num('historyRetention', NODE_DEFAULTS.historyRetention, 0),
    requestTimeoutMs: num('requestTimeoutMs', NODE_DEFAULTS.requestTimeoutMs),
    pendingProposalsMax: num('pendingProposalsMax', NODE_DEFAULTS.pendingProposalsMax),
    pendingProposalBytesMax: num('pendingProposalBytesMax', NODE_DEFAULTS.pendingProposalBytesMax),
    pendingReadsMax: num('pendingReadsMax', NODE_DEFAULTS.pendingReadsMax),
    snapshotChunkBytes: num('snapshotChunkBytes', NODE_DEFAULTS.snapshotChunkBytes),
    maxUncommittedBytes: num('maxUncommittedBytes', NODE_DEFAULTS.maxUncommittedBytes, 0),
    maxClientConnections: num('maxClientConnections', NODE_DEFAULTS.maxClientConnections),
    clientResponseBudgetBytes: num('clientResponseBudgetBytes', NODE_DEFAULTS.clientResponseBudgetBytes),
    clientFirstRequestTimeoutMs: num('clientFirstRequestTimeoutMs', NODE_DEFAULTS.clientFirstRequestTimeoutMs),
    clientFrameTimeoutMs: num('clientFrameTimeoutMs', NODE_DEFAULTS.clientFrameTimeoutMs),
    clientIdleTimeoutMs: num('clientIdleTimeoutMs', NODE_DEFAULTS.clientIdleTimeoutMs),
    ...(peerLivenessRaw === undefined ? {} : { peerLivenessTimeoutMs: parseInteger(peerLivenessRaw, 1) }),
    sweepIntervalMs: num('sweepIntervalMs', NODE_DEFAULTS.sweepIntervalMs),
    applyBacklogMax: num('applyBacklogMax', NODE_DEFAULTS.applyBacklogMax),
    statsIntervalMs: num('statsIntervalMs', NODE_DEFAULTS.statsIntervalMs),
    ...(listenMetrics === undefined ? {} : { listenMetrics }),
    readyApplyLagMax: num('readyApplyLagMax', NODE_DEFAULTS.readyApplyLagMax),
    backupStallMs: num('backupStallMs', NODE_DEFAULTS.backupStallMs),
    logLevel: logLevelRaw === undefined ? NODE_DEFAULTS.logLevel : parseLogLevel(logLevelRaw),
    ignoreInitialClusterMismatch:
      get('ignoreInitialClusterMismatch') === undefined ? NODE_DEFAULTS.ignoreInitialClusterMismatch : parseBool(get('ignoreInitialClusterMismatch')!),
    tls: parseTls(get),
    ...(get('tlsWatchMs') === undefined ? {} : { tlsWatchMs: parseInteger(get('tlsWatchMs')!, 1) }),
  };
  return validateNodeConfig(config);
}

/**
 * The TLS files per side. Half a side is a configuration error: a certificate without its key (or
 * the reverse), a peer side without its CA (peers always authenticate each other), a CA alone.
 */
function parseTls(get: (key: ConfigKey) => Raw | undefined): KeelNodeConfig['tls'] {
  const side = (prefix: 'peer' | 'client', caRequired: boolean): TlsFilePaths | undefined => {
    const keys = { cert: `${prefix}Cert`, key: `${prefix}Key`, ca: `${prefix}Ca` } as const;
    const raw = { cert: get(keys.cert), key: get(keys.key), ca: get(keys.ca) };
    if (raw.cert === undefined && raw.key === undefined && raw.ca === undefined) return undefined;
    const missing = (['cert', 'key', ...(caRequired ? ['ca' as const] : [])] as const).filter((k) => raw[k] === undefined);
    if (missing.length > 0) {
      const given = (['cert', 'key', 'ca'] as const).filter((k) => raw[k] !== undefined).map((k) => `--${prefix}-${k}`);
      const needed = caRequired ? `--${prefix}-cert, --${prefix}-key and --${prefix}-ca go together` : `--${prefix}-cert and --${prefix}-key go together`;
      throw new ConfigError(`${needed}: ${given.join(' and ')} given without ${missing.map((k) => `--${prefix}-${k}`).join(' and ')}`);
    }
    return { cert: parseString(raw.cert!), key: parseString(raw.key!), ...(raw.ca !== undefined ? { ca: parseString(raw.ca) } : {}) };
  };
  const peer = side('peer', true);
  const client = side('client', false);
  return { ...(peer !== undefined ? { peer } : {}), ...(client !== undefined ? { client } : {}) };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold one JSON object`);
  }
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) {
      throw new ConfigError(`config file ${path}: unknown key "${key}" (known keys: ${[...known].join(', ')})`);
    }
  }
  return parsed as Record<string, unknown>;
}

function parseString(raw: Raw): string {
  if (typeof raw.value !== 'string' || raw.value.trim().length === 0) {
    throw new ConfigError(`${raw.origin}: expected a non-empty string, got ${JSON.stringify(raw.value)}`);
  }
  return raw.value.trim();
}

function parseInteger(raw: Raw, min: number): number {
  const v = raw.value;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`${raw.origin}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function parseBool(raw: Raw): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  throw new ConfigError(`${raw.origin}: expected true or false, got ${JSON.stringify(raw.value)}`);
}

function parseBoolean(value: unknown, env: string): boolean {
  if (value === true) return true;
  const s = String(value).toLowerCase();
  if (s === '1' || s === 'true' || s === 'yes') return true;
  if (s === '0' || s === 'false' || s === 'no' || s === '') return false;
  throw new ConfigError(`environment ${env}: expected true or false, got ${JSON.stringify(value)}`);
}

function parseLogLevel(raw: Raw): LogLevel {
  const v = raw.value;
  if (typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new ConfigError(`${raw.origin}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
}

/** "host:port" or "[v6]:port" with port 1..65535. */
export function parseAddress(text: string, origin: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(text.trim());
  if (m === null) throw new ConfigError(`${origin}: "${text}" is not host:port`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new ConfigError(`${origin}: port ${m[3]} in "${text}" is not in 1..65535`);
  return { host: (m[1] ?? m[2])!, port };
}

function parseListen(raw: Raw): ListenAddress {
  return parseAddress(parseString(raw), raw.origin);
}

function parseId(text: string, origin: string): NodeId {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(`${origin}: node id "${text}" is not a positive integer`);
  const id = Number(text.trim());
  if (!Number.isSafeInteger(id) || id < 1) throw new ConfigError(`${origin}: node id "${text}" is not a positive integer`);
  return id;
}

export function parseInitialCluster(raw: Raw): InitialMember[] {
  const members: InitialMember[] = [];
  if (Array.isArray(raw.value)) {
    for (const item of raw.value as unknown[]) {
      const o = item as { id?: unknown; peerAddress?: unknown; clientAddress?: unknown };
      if (typeof o !== 'object' || o === null || typeof o.peerAddress !== 'string' || typeof o.clientAddress !== 'string') {
        throw new ConfigError(`${raw.origin}: each member needs id, peerAddress and clientAddress`);
      }
      members.push(checkedMember(parseId(String(o.id), raw.origin), o.peerAddress, o.clientAddress, raw.origin));
    }
  } else {
    const text = parseString(raw);
    for (const part of text.split(',')) {
      const m = /^\s*([^=\s]+)\s*=\s*([^/\s]+)\/([^/\s]+)\s*$/.exec(part);
      if (m === null) {
        throw new ConfigError(`${raw.origin}: "${part}" is not id=peerHost:peerPort/clientHost:clientPort`);
      }
      members.push(checkedMember(parseId(m[1]!, raw.origin), m[2]!, m[3]!, raw.origin));
    }
  }
  if (members.length === 0) throw new ConfigError(`${raw.origin}: no members`);
  const seen = new Set<number>();
  const addresses = new Set<string>();
  for (const m of members) {
    if (seen.has(m.id)) throw new ConfigError(`${raw.origin}: duplicate member id ${m.id}`);
    seen.add(m.id);
    for (const a of [m.peerAddress, m.clientAddress]) {
      if (addresses.has(a)) throw new ConfigError(`${raw.origin}: address ${a} is used twice`);
      addresses.add(a);
    }
  }
  return members;
}

function checkedMember(id: NodeId, peerAddress: string, clientAddress: string, origin: string): InitialMember {
  parseAddress(peerAddress, `${origin} (member ${id} peer address)`);
  parseAddress(clientAddress, `${origin} (member ${id} client address)`);
  return { id, peerAddress: peerAddress.trim(), clientAddress: clientAddress.trim() };
}

function parsePeers(raw: Raw): Map<NodeId, string> {
  const out = new Map<NodeId, string>();
  const add = (idText: string, address: string): void => {
    const id = parseId(idText, raw.origin);
    if (out.has(id)) throw new ConfigError(`${raw.origin}: peer ${id} listed twice`);
    parseAddress(address, `${raw.origin} (peer ${id})`);
    out.set(id, address.trim());
  };
  if (typeof raw.value === 'object' && raw.value !== null && !Array.isArray(raw.value)) {
    for (const [k, v] of Object.entries(raw.value)) {
      if (typeof v !== 'string') throw new ConfigError(`${raw.origin}: address of peer ${k} must be a string`);
      add(k, v);
    }
    return out;
  }
  const text = parseString(raw);
  for (const part of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
    if (m === null) throw new ConfigError(`${raw.origin}: "${part}" is not id=host:port`);
    add(m[1]!, m[2]!);
  }
  return out;
}

function sameHost(a: string, b: string): boolean {
  const wild = (h: string): boolean => h === '0.0.0.0' || h === '::';
  return a === b || wild(a) || wild(b);
}
