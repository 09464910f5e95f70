/**
 * TEST-ONLY variants of the core, each with exactly one injected bug, for proving that the
 * simulator catches real safety violations. They subclass `Raft` and override one protected
 * decision point; production code has no flag for any of them.
 */
import { Raft, RawNode, type NodeId, type RaftConfig, type ResolvedConfig, type SnapshotAction, type SnapshotMeta } from '@keel/raft';

type RaftClass = new (config: ResolvedConfig) => Raft;

function nodeWith(RaftVariant: RaftClass): (config: RaftConfig) => RawNode {
  class BuggyNode extends RawNode {
    protected override createRaft(config: ResolvedConfig): Raft {
      return new RaftVariant(config);
    }
  }
  return (config) => new BuggyNode(config);
}

/** Grants (pre-)votes without the §5.4.1 up-to-date log check. */
export const voteWithoutLogCheck = nodeWith(
  class extends Raft {
    protected override logIsUpToDate(): boolean {
      return true;
    }
  },
);

/** Commits any majority-replicated index by counting, even of an earlier term (violates §5.4.2, Figure 8). */
export const commitPreviousTermByCounting = nodeWith(
  class extends Raft {
    protected override mayCommitAt(index: number): boolean {
      return this.log.term(index) !== undefined;
    }
  },
);

/** Serves ReadIndex reads at once from the leader's commit index, without the heartbeat round (thesis §6.4). */
export const readIndexWithoutHeartbeat = nodeWith(
  class extends Raft {
    protected override startReadRound(requestId: string, from: NodeId): void {
      this.releaseRead(requestId, this.log.committed, from);
    }
  },
);

/** Accepts a membership change while another is still uncommitted (thesis §4.1 requires one at a time). */
export const concurrentConfChanges = nodeWith(
  class extends Raft {
    protected override confChangePending(): boolean {
      return false;
    }
  },
);

/** A follower installs a snapshot even when it is older than its commit index (rolls back committed state). */
export const installStaleSnapshot = nodeWith(
  class extends Raft {
    protected override snapshotAction(meta: SnapshotMeta): SnapshotAction {
      if (meta.index <= this.log.committed) return 'restore';
      return super.snapshotAction(meta);
    }
  },
);

/**
 * Files acknowledgements (append and vote responses) with the messages that may leave before
 * the Ready is durable: the Ready contract's ordering rule broken inside the core, so even a
 * correct driver acknowledges entries and votes that a crash can still lose (§5.2, §5.3).
 */
export const acksBeforePersist = nodeWith(
  class extends Raft {
    protected override waitsForPersist(): boolean {
      return false;
    }
  },
);

/** Every factory by name (for table-driven tests). */
export const BUGGY_NODES = {
  voteWithoutLogCheck,
  commitPreviousTermByCounting,
  readIndexWithoutHeartbeat,
  concurrentConfChanges,
  installStaleSnapshot,
  acksBeforePersist,
} as const;
