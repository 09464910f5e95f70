import type { Entry, HardState, NodeId } from '../types.js';
import { entryKey } from './state-machine.js';

export type ViolationKind =
  /** Two leaders in one term (Raft §5.2, Election Safety). */
  | 'electionSafety'
  /** Same index and term but different entries or different prefixes (§5.3, Log Matching). */
  | 'logMatching'
  /** A new leader lacks an entry committed in an earlier term (§5.4, Leader Completeness). */
  | 'leaderCompleteness'
  /** Two nodes applied different entries, or different prefixes, at one index (§5.4.3). */
  | 'stateMachineSafety'
  /** A node's commit index moved backwards, in memory or on disk. */
  | 'commitRegressed'
  /** A node's term moved backwards. */
  | 'termRegressed'
  /** A node applied out of order, applied an index twice, or rolled its state machine back. */
  | 'appliedRegressed'
  /** A node installed a snapshot at or below what it had already applied. */
  | 'staleSnapshot'
  /** A crash lost an entry or a vote the node had already acknowledged (Ready: `messagesAfterPersist` only once durable). */
  | 'lostAck'
  /** A ReadIndex answer older than a commit index reached before the read began (thesis §6.4). */
  | 'staleRead'
  /** A leader appended a membership change while an earlier one was uncommitted (thesis §4.1). */
  | 'confChangeOverlap'
  /** The healed majority made no progress within the liveness bound. */
  | 'liveness'
  /** (server simulator) The clients' history of one key has no linearization (Wing–Gong / Lowe). */
  | 'linearizability'
  /** (server simulator) One client write (clientId, seq) took effect at two log indexes. */
  | 'exactlyOnce'
  /** (server simulator) A write was acknowledged although the entry it names is not the one committed there. */
  | 'ackNotApplied'
  /** The core threw, or broke its own contract (e.g. handed out entries that do not fit the log). */
  | 'contract'
  /**
   * The core logged an error-level event: something it holds impossible from honest peers (two
   * leaders in one term, an acknowledgement beyond its log, a commit beyond the follower's log…).
   */
  | 'coreError';

export interface Violation {
  readonly kind: ViolationKind;
  /** Simulated time (units) at which it was detected. */
  readonly time: number;
  readonly message: string;
}

/** What the checker knows about an entry once some node applied it. */
interface CommittedRecord {
  readonly key: string;
  readonly term: number;
  /** Digest of the applied prefix `1..index`. */
  readonly digest: number;
  /**
   * An upper bound on the term in which the entry was committed: the lowest term any node was in
   * when it applied the entry. Leaders of later terms must hold it (§5.4).
   */
  knownTerm: number;
}

/**
 * The checker: a separate observer that keeps the canonical history (the committed log as first
 * applied, the leader of each term, every (index, term) seen on a durable log) and checks each
 * node against it as events happen. It never influences the run.
 */
export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly leaders = new Map<number, NodeId>();
  private readonly committed: (CommittedRecord | undefined)[] = [];
  private readonly logTable = new Map<string, string>();
  private readonly durableCommit = new Map<NodeId, number>();
  /** The highest commit index any node has announced (in any Ready, even one later lost). */
  maxCommitSeen = 0;
  now = 0;

  /** `disabled`: kinds not reported (to show that another invariant catches the same bug). */
  constructor(private readonly disabled: readonly ViolationKind[] = []) {}

  report(kind: ViolationKind, message: string): void {
    if (this.disabled.includes(kind)) return;
    this.violations.push({ kind, time: this.now, message });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  /** The committed record at `index`, if any node applied it. */
  committedAt(index: number): { key: string; term: number; digest: number } | undefined {
    return this.committed[index];
  }

  get highestApplied(): number {
    return this.committed.length - 1;
  }

  /**
   * A node announced leadership of `term`. `termAt(i)` is the leader's log: the term of entry `i`,
   * or `undefined` when it has no entry `i`; indices at or below `snapshotIndex` are compacted.
   */
  leaderElected(id: NodeId, term: number, snapshotIndex: number, termAt: (i: number) => number | undefined): void {
    const previous = this.leaders.get(term);
    if (previous !== undefined && previous !== id) {
      this.report('electionSafety', `term ${term}: node ${id} became leader, but node ${previous} already led it`);
    }
    this.leaders.set(term, id);
    for (let i = snapshotIndex; i < this.committed.length; i++) {
      const rec = this.committed[i];
      if (rec === undefined || rec.knownTerm >= term) continue;
      const t = termAt(i);
      if (t !== rec.term) {
        this.report(
          'leaderCompleteness',
          `leader ${id} of term ${term} has ${t === undefined ? 'no entry' : `term ${t}`} at ${i}, but ${i}/${rec.term} was committed by term ${rec.knownTerm}`,
        );
        return;
      }
    }
  }

  /** A node announced a hard state in a Ready. `last` is what this incarnation announced before. */
  hardState(id: NodeId, hs: HardState, last: HardState): void {
    if (hs.term < last.term) this.report('termRegressed', `node ${id}: term ${last.term} -> ${hs.term}`);
    if (hs.commit < last.commit) this.report('commitRegressed', `node ${id}: commit ${last.commit} -> ${hs.commit}`);
    if (hs.commit > this.maxCommitSeen) this.maxCommitSeen = hs.commit;
  }

  /** A hard state became durable. The durable commit never regresses, across restarts too. */
  durableHardState(id: NodeId, hs: HardState, lastIndex: number): void {
    const before = this.durableCommit.get(id) ?? 0;
    if (hs.commit < before) this.report('commitRegressed', `node ${id}: durable commit ${before} -> ${hs.commit}`);
    this.durableCommit.set(id, Math.max(before, hs.commit));
    if (hs.commit > lastIndex) {
      this.report('contract', `node ${id}: durable commit ${hs.commit} beyond its durable last index ${lastIndex}`);
    }
  }

  /**
   * Entries became durable on a node; `termAt(i)` reads that node's durable log. Log Matching:
   * an (index, term) pair must always name the same entry with the same predecessor term, which
   * by induction makes the prefixes identical.
   */
  durableEntries(id: NodeId, entries: readonly Entry[], firstStored: number, termAt: (i: number) => number): void {
    for (const e of entries) {
      if (e.index < firstStored) continue;
      const id2 = `${e.index}:${e.term}`;
      const value = `${entryKey(e)}|${termAt(e.index - 1)}`;
      const seen = this.logTable.get(id2);
      if (seen === undefined) this.logTable.set(id2, value);
      else if (seen !== value) {
        this.report('logMatching', `node ${id} stored ${id2} as "${value}", another log holds "${seen}"`);
        return;
      }
    }
  }

  /**
   * A node applied `entry`; `digest` is its state machine digest afterwards and `term` the node's
   * current term. Returns true the first time any node applies this index.
   */
  applied(id: NodeId, entry: Entry, digest: number, term: number): boolean {
    const rec = this.committed[entry.index];
    const key = entryKey(entry);
    if (rec === undefined) {
      while (this.committed.length < entry.index) this.committed.push(undefined);
      this.committed[entry.index] = { key, term: entry.term, digest, knownTerm: term };
      return true;
    }
    if (rec.key !== key) {
      this.report('stateMachineSafety', `node ${id} applied ${entry.index} as "${key}", another node applied "${rec.key}"`);
    } else if (rec.digest !== digest) {
      this.report('stateMachineSafety', `node ${id} reached a different state at ${entry.index} than another node`);
    }
    if (term < rec.knownTerm) rec.knownTerm = term;
    return false;
  }

  /**
   * A node crashed. `acked` is the highest log index it acknowledged (appResp) since its log last
   * shrank, `vote` the last vote it granted; both were promised durable when sent.
   */
  crashed(id: NodeId, acked: number, vote: { term: number; to: NodeId } | undefined, durableLast: number, durable: HardState): void {
    if (acked > durableLast) {
      this.report('lostAck', `node ${id} crashed with entries up to ${acked} acknowledged but only ${durableLast} on disk`);
    }
    if (vote !== undefined && (durable.term < vote.term || (durable.term === vote.term && durable.vote !== vote.to))) {
      this.report('lostAck', `node ${id} crashed after granting its vote in term ${vote.term} to ${vote.to}, but its disk has term ${durable.term} vote ${durable.vote}`);
    }
  }

  /** A node's state machine was replaced by a snapshot at `index` with state `digest`. */
  snapshotInstalled(id: NodeId, index: number, term: number, digest: number, appliedBefore: number): void {
    if (index <= appliedBefore) {
      this.report('staleSnapshot', `node ${id} installed a snapshot at ${index} after applying ${appliedBefore}`);
    }
    const rec = this.committed[index];
    if (rec !== undefined && (rec.term !== term || rec.digest !== digest)) {
      this.report('stateMachineSafety', `node ${id} installed a snapshot at ${index}/${term} that disagrees with the applied history`);
    }
  }
}
