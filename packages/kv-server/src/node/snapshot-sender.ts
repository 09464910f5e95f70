import type { Logger, NodeId, SnapshotMeta } from '@keel/raft';
import type { SnapshotStream } from '../storage/state-store.js';
import type { PeerSender } from './ports.js';

/**
 * Leader side of InstallSnapshot: when a Ready carries a 'snap' message, stream the state
 * machine to that follower through the peer sender, one snapshot at a time per follower, and report
 * the outcome to the core (`done`). The store streams the state as of the moment the send
 * starts, so the meta sent may be newer than the core's snapshot (never older): the follower
 * installs that newer committed state and its next append response tells the leader its match.
 */
export class SnapshotSender {
  private readonly inFlight = new Set<NodeId>();

  constructor(
    /** The state store's `readSnapshot`. */
    private readonly read: (chunkBytes: number) => Promise<SnapshotStream>,
    private readonly peers: PeerSender,
    private readonly logger: Logger,
    private readonly chunkBytes: number,
    private readonly done: (to: NodeId, status: 'finish' | 'failure') => void,
  ) {}

  /** Start streaming to `to` unless a stream to it is already running (the core hears of that one). */
  send(to: NodeId, coreIndex: number): void {
    if (this.inFlight.has(to)) return;
    this.inFlight.add(to);
    this.stream(to, coreIndex).then(
      (meta) => {
        this.logger.log('info', 'snapshot.sent', { to, index: meta.index });
        this.finish(to, 'finish');
      },
      (err: unknown) => {
        this.logger.log('warn', 'snapshot.send_failed', { to, error: err });
        this.finish(to, 'failure');
      },
    );
  }

  private async stream(to: NodeId, coreIndex: number): Promise<SnapshotMeta> {
    const stream = await this.read(this.chunkBytes);
    this.logger.log('info', 'snapshot.sending', { to, index: stream.meta.index, snapshotTerm: stream.meta.term, coreIndex });
    try {
      await this.peers.sendSnapshot(to, stream.meta, stream.chunks);
    } finally {
      await stream.close().catch(() => undefined);
    }
    return stream.meta;
  }

  private finish(to: NodeId, status: 'finish' | 'failure'): void {
    this.inFlight.delete(to);
    this.done(to, status);
  }
}
