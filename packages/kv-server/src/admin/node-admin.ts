/**
 * The admin side of one node process, when `--listen-metrics` is given: the metrics, the write
 * probe, readiness, the per-second history, the cluster view and the HTTP listener, composed in
 * one place so that `KeelNode` only hands it the parts it reads.
 *
 * It exists before the node core (the store's disk and the transport report to its metrics from
 * the start); `attach` gives it the running node. Until then every endpoint answers 503.
 */
import { KeelError, type ClientRequest, type ClientResults } from '@keel/protocol';
import type { Logger, NodeId } from '@keel/raft';
import type { ClientPortServer } from '../client-port/index.js';
import type { ListenAddress } from '../node/config.js';
import type { NodeCore } from '../node/node-core.js';
import type { Disk, SnapshotStream } from '../storage/index.js';
import type { PeerTransport } from '../transport/index.js';
import { AdminServer, HttpError } from './admin-server.js';
import { sendBackup } from './backup-download.js';
import { ClusterViewer } from './cluster-view.js';
import { WriteProbe, readiness, type Verdict } from './health.js';
import { History } from './history.js';
import { NodeMetrics } from './node-metrics.js';

/** The running node, as the admin side reads it. */
export interface AdminTarget {
  readonly core: NodeCore;
  readonly transport: Pick<PeerTransport, 'peerState'>;
  readonly clientServer: Pick<ClientPortServer, 'connectionCount' | 'refusedConnectionCount' | 'evictedConnectionCount'>;
  /** Index of the log store's latest snapshot. */
  snapshotIndex(): number;
}

export interface NodeAdminSettings {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly listen: ListenAddress;
  /** `/ready` fails while applied trails commit by more entries than this. */
  readonly readyApplyLagMax: number;
  /** Largest chunk of a backup (as snapshots to followers). */
  readonly snapshotChunkBytes: number;
  /** A backup download whose client takes nothing for this long ends (ms). */
  readonly backupStallMs: number;
}

/**
 * Backups served at once. Each holds a LevelDB snapshot open for as long as its download lasts
 * (LevelDB keeps every file the snapshot reads, so the disk grows under writes meanwhile): a
 * third is refused with 429 OVERLOADED rather than queued.
 */
export const BACKUPS_AT_ONCE_MAX = 2;

export class NodeAdmin {
  readonly metrics: NodeMetrics;
  private target: AdminTarget | undefined;
  /** Backups being served (`GET /snapshot`). */
  private backups = 0;
  private readonly history: History;
  private readonly probe: WriteProbe;
  private readonly viewer: ClusterViewer;
  private readonly server: AdminServer;

  constructor(
    private readonly settings: NodeAdminSettings,
    logger: Logger,
  ) {
    const node = (): AdminTarget => {
      if (this.target === undefined) throw new HttpError(503, 'the node is starting');
      return this.target;
    };
    this.metrics = new NodeMetrics(
      {
        status: () => node().core.status(),
        snapshotIndex: () => node().snapshotIndex(),
        pending: () => node().core.pending(),
        peers: () => this.peers(node()),
        clientConnections: () => {
          const c = node().clientServer;
          return { open: c.connectionCount, refused: c.refusedConnectionCount, evicted: c.evictedConnectionCount };
        },
      },
      settings,
    );
    this.history = new History({
      indexes: () => {
        const s = node().core.status();
        return { commit: s.commit, applied: s.applied };
      },
      requestTotals: (ops) => this.metrics.requestTotals(ops),
    });
    this.probe = new WriteProbe(settings.dataDir);
    this.viewer = new ClusterViewer({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      members: () => node().core.members(),
      status: () => node().core.status(),
      history: () => this.history.list(),
      raftLink: (id) => node().transport.peerState(id)?.connected ?? false,
    });
    this.server = new AdminServer(settings.listen, logger, {
      metrics: async () => {
        node();
        return { contentType: this.metrics.contentType, text: await this.metrics.text() };
      },
      health: () => this.health(node()),
      ready: () => {
        const { core } = node();
        if (core.isClosing) return { ...readiness(core.status(), this.settings.readyApplyLagMax), ready: false, reason: 'the node is shutting down' };
        return readiness(core.status(), this.settings.readyApplyLagMax);
      },
      node: () => ({ status: node().core.status(), history: this.history.list() }),
      cluster: () => {
        node();
        return this.viewer.view();
      },
      snapshot: async (res) => {
        const { core } = node();
        if (this.backups >= BACKUPS_AT_ONCE_MAX) {
          throw new HttpError(429, `${this.backups} backups are being downloaded from this node, the most it serves at once: try again when one ends`, 'OVERLOADED');
        }
        this.backups++;
        try {
          let stream: SnapshotStream;
          try {
            stream = await core.backup(settings.snapshotChunkBytes);
          } catch (error) {
            if (!(error instanceof KeelError)) throw error;
            throw new HttpError(error.code === 'OVERLOADED' ? 429 : 503, `no consistent snapshot: ${error.message}`, error.code);
          }
          await sendBackup(res, stream, settings, logger);
        } finally {
          this.backups--;
        }
      },
    });
  }

  /** Starts listening (before the node core exists). Resolves with the bound port; rejects with `ListenError`. */
  listen(): Promise<{ port: number }> {
    return this.server.listen();
  }

  /** The node runs: serve it, and start sampling its history. */
  attach(target: AdminTarget): void {
    this.target = target;
    this.history.start();
  }

  /** The store's disk, with synced writes timed for `keel_disk_fsync_duration_seconds`. */
  readonly wrapDisk = (disk: Disk): Disk => ({
    write: async (ops, sync) => {
      if (!sync) return disk.write(ops, sync);
      const started = performance.now();
      await disk.write(ops, sync);
      this.metrics.synced((performance.now() - started) / 1000);
    },
    clear: (sublevel, range) => disk.clear(sublevel, range),
  });

  /** Runs a client request, counting its result code and timing it. */
  async observe<Op extends ClientRequest['op']>(op: Op, run: () => Promise<ClientResults[Op]>): Promise<ClientResults[Op]> {
    const started = performance.now();
    try {
      const result = await run();
      this.metrics.request(op, 'OK', (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      this.metrics.request(op, error instanceof KeelError ? error.code : 'INTERNAL', (performance.now() - started) / 1000);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.history.stop();
    await this.server.close();
  }

  private async health(target: AdminTarget): Promise<Verdict> {
    if (target.core.isClosing) return { ok: false, reason: 'the node is shutting down' };
    return this.probe.check();
  }

  private peers(target: AdminTarget): Array<{ id: NodeId; reachable: boolean }> {
    return target.core
      .members()
      .filter((m) => m.id !== this.settings.nodeId)
      .map((m) => ({ id: m.id, reachable: target.transport.peerState(m.id)?.connected ?? false }));
  }
}
