import { randomInt } from 'node:crypto';
import type { Member } from '@keel/protocol';
import { NONE, RawNode, SeededRng } from '@keel/raft';
import { NodeAdmin } from '../admin/node-admin.js';
import { ClientPortServer } from '../client-port/index.js';
import { WatchHub } from '../watch/watch-hub.js';
import { openLevelStores, type LogStore, type NodeStores, type StateStore } from '../storage/index.js';
import { AuthGate } from '../auth/auth-gate.js';
import { PasswordHasher } from '../auth/password-hash.js';
import { TlsCredentials, TlsFilesError, watchTlsFiles, type TlsFilePaths } from '../tls/index.js';
import { PeerTransport } from '../transport/index.js';
import { ConfigError, coreConfigOf, effectivePeerLivenessTimeoutMs, type KeelNodeConfig, type ListenAddress } from './config.js';
import { startingError } from './errors.js';
import type { JsonLogger } from './json-logger.js';
import { NodeCore } from './node-core.js';
import { observers } from './ports.js';
import { ReadyStats } from './ready-stats.js';

/** Hooks the process wrapper (CLI) gives the node. */
export interface KeelNodeHooks {
  /** The node hit an error it cannot continue after (durable write failed, invariant broken). */
  onFatal?: (error: unknown) => void;
}

/**
 * One Keel node process: the thin adapter that gives a `NodeCore` its ports — LevelDB stores,
 * the TCP peer transport, the client port, a tick timer, `setImmediate` as its scheduler and a
 * seeded RNG — and owns their lifetimes, with the admin listener (`NodeAdmin`: metrics, health,
 * dashboard) when `listenMetrics` is set. Everything that decides anything is in the core.
 *
 * Start-up order: open the stores (refusing an `--initial-cluster` that disagrees with the data
 * directory), listen on every port, and only then bootstrap a new data directory — so a start
 * that fails (a port in use) leaves the directory as it was.
 *
 * @example
 * const node = await KeelNode.start(config, logger);
 * // … later
 * await node.close();
 */
export class KeelNode {
  private closePromise: Promise<void> | undefined;

  private constructor(
    readonly config: KeelNodeConfig,
    private readonly core: NodeCore,
    private readonly stores: NodeStores,
    private readonly transport: PeerTransport,
    private readonly clientServer: ClientPortServer,
    private readonly admin: NodeAdmin | undefined,
    private readonly tickTimer: NodeJS.Timeout,
    /** The bound peer port (useful when configured as 0). */
    readonly peerPort: number,
    readonly clientPort: number,
    private readonly logger: JsonLogger,
    private readonly tls: readonly TlsCredentials[],
  ) {
    if (config.tlsWatchMs !== undefined && tls.length > 0) this.unwatchTls = watchTlsFiles(tls, config.tlsWatchMs, () => this.reloadTls('file-watch'));
  }

  /** Stops the file watch of `--tls-watch-ms`. */
  private readonly unwatchTls: () => void = () => {};

  /** Open the stores, listen on the peer and client ports, bootstrap a new data dir, start ticking. */
  static async start(config: KeelNodeConfig, logger: JsonLogger, hooks: KeelNodeHooks = {}): Promise<KeelNode> {
    const peerTls = loadTls('--peer', config.tls.peer);
    const clientTls = loadTls('--client', config.tls.client);
    const admin =
      config.listenMetrics === undefined
        ? undefined
        : new NodeAdmin(
            {
              nodeId: config.id,
              clusterId: config.clusterId,
              dataDir: config.dataDir,
              listen: config.listenMetrics,
              readyApplyLagMax: config.readyApplyLagMax,
              snapshotChunkBytes: config.snapshotChunkBytes,
              backupStallMs: config.backupStallMs,
            },
            logger,
          );
    const stores = await openLevelStores(config.dataDir, { nodeId: config.id, logger, ...(admin !== undefined ? { wrapDisk: admin.wrapDisk } : {}) });
    // Until the core exists (a few ms of start-up) peers and clients are not served.
    let core: NodeCore | undefined;
    const passwords = new PasswordHasher();
    const gate = new AuthGate({
      auth: () => stores.state.auth(),
      passwords,
      leaseKeys: (id) => stores.state.leases().get(id)?.keys.values(),
      run: (request, authorize, as) => (core !== undefined ? core.handle(request, authorize, as) : Promise.reject(startingError())),
    });
    const listening = { peerAddress: '', clientAddress: '', adminAddress: '' };
    const transport = new PeerTransport({
      clusterId: config.clusterId,
      nodeId: config.id,
      listen: config.listenPeer,
      peers: new Map(),
      logger,
      ...(peerTls !== undefined ? { tls: peerTls } : {}),
      livenessTimeoutMs: effectivePeerLivenessTimeoutMs(config),
      advertised: () => core?.advertised() ?? listening,
      onPeerAddresses: (id, addresses) => core?.peerAddresses(id, addresses),
      onMessage: (m) => core?.step(m),
      onSnapshot: (from, meta, chunks) => (core !== undefined ? core.receiveSnapshot(from, meta, chunks) : Promise.reject(startingError())),
      ...(admin !== undefined ? { traffic: admin.metrics } : {}),
    });
    transport.onUnreachable = (id) => core?.unreachable(id);
    const watches = new WatchHub(stores.state, logger, {
      leader: () => core?.status().leader ?? NONE,
      tickMs: config.tickMs,
      noLeaderTicks: config.electionTicks,
    });
    const clientServer = new ClientPortServer({
      host: config.listenClient.host,
      port: config.listenClient.port,
      logger,
      ...(clientTls !== undefined ? { tls: clientTls } : {}),
      peerAddress: () => (core?.advertised() ?? listening).peerAddress,
      watches,
      authorizeWatch: (request, identity) => gate.authorizeWatch(request, identity),
      handle: (request, identity) => (admin !== undefined ? admin.observe(request.op, () => gate.handle(request, identity)) : gate.handle(request, identity)),
      maxConnections: config.maxClientConnections,
      responseBytesPerConnectionMax: config.clientResponseBudgetBytes,
      firstRequestTimeoutMs: config.clientFirstRequestTimeoutMs,
      frameTimeoutMs: config.clientFrameTimeoutMs,
      idleTimeoutMs: config.clientIdleTimeoutMs,
    });
    try {
      checkInitialCluster(config, stores.log, stores.state, logger);
      const peerPort = (await transport.listen()).port;
      const clientPort = (await clientServer.listen()).port;
      const adminPort = admin === undefined ? undefined : (await admin.listen()).port;
      listening.peerAddress = listenAddress(config.listenPeer, peerPort);
      listening.clientAddress = listenAddress(config.listenClient, clientPort);
      if (config.listenMetrics !== undefined && adminPort !== undefined) listening.adminAddress = adminAddress(config, adminPort, clientPort);
      if (stores.log.isPristine && config.initialCluster.length > 0) await stores.log.bootstrap(initialMembers(config));
      const rawNode = new RawNode({
        id: config.id,
        storage: stores.log.raftStorage,
        rng: new SeededRng(randomInt(1, 2 ** 31)),
        electionTick: config.electionTicks,
        heartbeatTick: config.heartbeatTicks,
        preVote: true,
        checkQuorum: true,
        applied: stores.state.appliedIndex(),
        maxUncommittedBytes: config.maxUncommittedBytes,
        logger,
      });
      const stats = new ReadyStats(logger, config.statsIntervalMs);
      let node: KeelNode | undefined;
      const started = new NodeCore(coreConfigOf(config), rawNode, {
        log: stores.log,
        state: stores.state,
        peers: transport,
        scheduler: { soon: (run) => setImmediate(run) },
        rng: new SeededRng(randomInt(1, 2 ** 31)),
        logger,
        observer: admin !== undefined ? observers(stats, admin.metrics) : stats,
        listening,
        passwords,
        onFatal: (err) => (hooks.onFatal !== undefined ? hooks.onFatal(err) : void node?.close()),
      });
      core = started;
      logger.setContext(() => started.logContext());
      const tickTimer = setInterval(() => {
        started.tick();
        watches.tick();
        stats.tick(config.tickMs, started.pending());
      }, config.tickMs);
      const tls = [peerTls, clientTls].filter((c) => c !== undefined);
      node = new KeelNode(config, started, stores, transport, clientServer, admin, tickTimer, peerPort, clientPort, logger, tls);
      started.start();
      admin?.attach({
        core: started,
        transport,
        clientServer,
        snapshotIndex: () => stores.log.raftStorage.snapshot().meta.index,
      });
      const st = started.status();
      logger.log('info', 'node.started', {
        peerPort,
        clientPort,
        ...(adminPort !== undefined ? { adminPort, adminAddress: listening.adminAddress } : {}),
        applied: st.applied,
        lastIndex: st.lastIndex,
        commit: st.commit,
        snapshotIndex: stores.log.raftStorage.snapshot().meta.index,
        members: stores.state.members(),
        tickMs: config.tickMs,
        electionTicks: config.electionTicks,
        heartbeatTicks: config.heartbeatTicks,
        snapshotEntries: config.snapshotEntries,
      });
      return node;
    } catch (err) {
      await admin?.close().catch(() => undefined);
      await clientServer.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      await stores.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Reads every TLS certificate, key and CA file again (SIGHUP): new connections use them, open
   * ones keep theirs. A side whose files cannot be used is logged and keeps its old credentials.
   */
  reloadTls(cause: 'signal' | 'file-watch' = 'signal'): void {
    for (const credentials of this.tls) {
      try {
        credentials.reload();
        this.logger.log('info', 'tls.reloaded', { flags: credentials.flagPrefix, cause, ...credentials.paths });
      } catch (error) {
        this.logger.log('error', 'tls.reload.failed', { flags: credentials.flagPrefix, cause, error: (error as Error).message });
      }
    }
  }

  /**
   * Graceful shutdown: the core refuses new requests and fails pending ones (writes as
   * indeterminate: they may still commit), the client port answers what it accepted and closes,
   * the core's Ready and apply in progress finish, then the transport and the stores close.
   * Idempotent.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.logger.log('info', 'node.stopping', {});
    clearInterval(this.tickTimer);
    this.unwatchTls();
    const steps: Array<[string, () => Promise<void>]> = [
      ['admin', async () => this.admin?.close()],
      ['core', () => this.core.close()],
      ['clientPort', () => this.clientServer.drainAndClose()],
      ['transport', () => this.transport.close()],
      ['stores', () => this.stores.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        this.logger.log('warn', 'node.close_step_failed', { step: name, error: err });
      }
    }
    this.logger.log('info', 'node.stopped', { applied: this.core.status().applied });
  }
}

/** The configured bootstrap membership as members. */
function initialMembers(config: KeelNodeConfig): Member[] {
  return config.initialCluster.map((m): Member => ({ id: m.id, role: 'voter', peerAddress: m.peerAddress, clientAddress: m.clientAddress }));
}

/**
 * A restart with an `--initial-cluster` other than the one the data directory was bootstrapped
 * with would be silently ignored (the node would advertise the stored addresses): refuse it,
 * naming both, unless `ignoreInitialClusterMismatch`. A directory without a bootstrap record
 * (it joined a cluster) is compared with its stored membership.
 */
function checkInitialCluster(config: KeelNodeConfig, log: LogStore, state: StateStore, logger: JsonLogger): void {
  if (config.initialCluster.length === 0 || log.isPristine) return;
  const given = describeMembers(initialMembers(config));
  const stored = describeMembers(log.bootstrappedWith ?? state.members());
  if (given === stored) return;
  const what = log.bootstrappedWith !== undefined ? 'was bootstrapped with' : 'joined a cluster whose membership is';
  const message = `--initial-cluster ${given} disagrees with the membership data dir ${config.dataDir} ${what}: ${stored || '(none)'}`;
  if (config.ignoreInitialClusterMismatch) {
    logger.log('warn', 'config.initial_cluster_ignored', { message });
    return;
  }
  throw new ConfigError(`${message}; fix --initial-cluster, or pass --ignore-initial-cluster-mismatch to start with the stored membership`);
}

function describeMembers(members: readonly Member[]): string {
  return [...members]
    .sort((a, b) => a.id - b.id)
    .map((m) => `${m.id}=${m.peerAddress}/${m.clientAddress}`)
    .join(',');
}

/**
 * Where others reach the admin listener: its listen address, or — when that is a wildcard — the
 * host of this node's client address (from `--initial-cluster`, else its listen address) with
 * the admin port; '' when neither names a host.
 */
function adminAddress(config: KeelNodeConfig, adminPort: number, clientPort: number): string {
  const direct = listenAddress(config.listenMetrics!, adminPort);
  if (direct !== '') return direct;
  const client = config.initialCluster.find((m) => m.id === config.id)?.clientAddress || listenAddress(config.listenClient, clientPort);
  if (client === '') return '';
  const host = client.slice(0, client.lastIndexOf(':'));
  return `${host}:${adminPort}`;
}

/**
 * "host:port" of a listen address, with the bound port when the configured one was 0; '' when
 * it cannot be dialed as is (a wildcard host, or the port is not bound yet).
 */
function listenAddress(listen: ListenAddress, boundPort: number): string {
  const port = boundPort !== 0 ? boundPort : listen.port;
  if (port === 0 || listen.host === '' || listen.host === '0.0.0.0' || listen.host === '::') return '';
  return listen.host.includes(':') ? `[${listen.host}]:${port}` : `${listen.host}:${port}`;
}


/** One side's credentials, read and checked before anything else starts; unusable files are a configuration error. */
function loadTls(flagPrefix: string, paths: TlsFilePaths | undefined): TlsCredentials | undefined {
  if (paths === undefined) return undefined;
  try {
    return new TlsCredentials(flagPrefix, paths);
  } catch (error) {
    if (error instanceof TlsFilesError) throw new ConfigError(error.message);
    throw error;
  }
}
