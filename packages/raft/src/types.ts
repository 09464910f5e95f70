/**
 * The data types of the Raft core: log entries, messages, persistent state, configuration and
 * the `Ready` batch through which the core hands work to the application.
 *
 * Everything here is plain data (no classes) so that the server can encode it with msgpackr and
 * the simulator can copy it freely. Node ids are positive integers; `0` (`NONE`) means "nobody".
 */

/** A member of the cluster. Positive integer; `NONE` (0) means no node. */
export type NodeId = number;
export const NONE: NodeId = 0;

// ---------------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------------

/** The voters and learners of a configuration. Learners receive the log but never vote. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * One single-server membership change.
 * - `addVoter` adds a new voter, or promotes an existing learner.
 * - `addLearner` adds a non-voting member.
 * - `removeNode` removes a voter or learner.
 * `context` is opaque to the core; the server uses it to carry the member's addresses.
 */
export interface ConfChange {
  readonly type: 'addVoter' | 'addLearner' | 'removeNode';
  readonly nodeId: NodeId;
  readonly context?: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Log
// ---------------------------------------------------------------------------------------------

/** Application data. An entry with empty `data` is the no-op a new leader appends. */
export interface NormalEntry {
  readonly type: 'normal';
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/**
 * A membership change. `conf` is the whole configuration that results from applying `change`
 * to the configuration before it, so a node's configuration is always the `conf` of the last
 * configuration entry in its log (or of its snapshot), with no need to replay history.
 * A configuration takes effect as soon as it is appended to a log (Raft thesis §4.1).
 */
export interface ConfChangeEntry {
  readonly type: 'confChange';
  readonly index: number;
  readonly term: number;
  readonly change: ConfChange;
  readonly conf: ConfState;
}

export type Entry = NormalEntry | ConfChangeEntry;

/** Term, vote and commit index: the state that must be durable before messages depending on it leave. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface SnapshotMeta {
  /** Index of the last entry the snapshot covers. */
  readonly index: number;
  /** Term of that entry. */
  readonly term: number;
  /** Membership as of `index`. */
  readonly conf: ConfState;
}

/**
 * A state machine snapshot. `data` may be empty when the application moves the snapshot's
 * contents out of band (the server streams LevelDB contents in chunks); the core only ever
 * reads `meta`.
 */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's term. 0 only for messages that are not bound to a term (none today). */
  readonly term: number;
}

/** AppendEntries (§5.3). `entries` follow `prevIndex`/`prevTerm`. */
export interface AppendMessage extends MessageBase {
  readonly type: 'app';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Answer to `app` (and to `snap`). On success `index` is an index up to which the follower's log
 * is known to match the leader's: the last entry the append carried (or its commit index, for an
 * append below it), or the snapshot's index — never a tail the message did not vouch for.
 * On rejection `index` is the `prevIndex` that failed and `hintIndex`/`hintTerm` let the leader
 * skip back a whole term at a time (fast back-off).
 */
export interface AppendResponseMessage extends MessageBase {
  readonly type: 'appResp';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Leader heartbeat. `commit` is min(follower match, leader commit). `context` ties it to a ReadIndex round. */
export interface HeartbeatMessage extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly context?: string;
}

export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: 'heartbeatResp';
  readonly context?: string;
}

/** RequestVote (§5.2, §5.4.1) or its PreVote twin (thesis §9.6). `term` is the proposed term for PreVote. */
export interface VoteMessage extends MessageBase {
  readonly type: 'vote' | 'preVote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when the election follows a leadership transfer: voters ignore their leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends MessageBase {
  readonly type: 'voteResp' | 'preVoteResp';
  readonly reject: boolean;
}

/** InstallSnapshot (§7). */
export interface SnapshotMessage extends MessageBase {
  readonly type: 'snap';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: the target starts an election at once (thesis §3.10). */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: 'timeoutNow';
}

/** A follower asks the leader for a read index on behalf of a local reader (thesis §6.4). */
export interface ReadIndexMessage extends MessageBase {
  readonly type: 'readIndex';
  readonly requestId: string;
}

/** The leader's answer: `index` is safe to read at once applied, unless `reject`. */
export interface ReadIndexResponseMessage extends MessageBase {
  readonly type: 'readIndexResp';
  readonly requestId: string;
  readonly index: number;
  readonly reject: boolean;
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

export type MessageType = Message['type'];

// ---------------------------------------------------------------------------------------------
// Roles, status, reads, proposals
// ---------------------------------------------------------------------------------------------

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state the application may want to observe (leader changes, role changes). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: number;
}

export type ReadRejection = 'notLeader' | 'noLeader' | 'leadershipLost' | 'notCommittedInTerm';

/** A read the core will never answer: the application should fail it (it is safe to retry). */
export interface RejectedRead {
  readonly requestId: string;
  readonly reason: ReadRejection;
}

/**
 * Why a proposal was refused; nothing was appended. `uncommittedLimit`: the leader holds
 * `RaftConfig.maxUncommittedBytes` of uncommitted proposals already (back-pressure: retry once
 * the commit index catches up). The size of a single entry is not the core's concern: the
 * application bounds what it proposes at its own boundary (the server's request limits).
 */
export type ProposalRejection =
  | 'notLeader'
  | 'transferring'
  | 'confChangePending'
  | 'notCommittedInTerm'
  | 'invalidConfChange'
  | 'learnerBehind'
  | 'uncommittedLimit';

/**
 * The outcome of `propose`/`proposeConfChange`. When accepted, the entry sits at `index` in
 * `term`: it committed if and only if the entry later applied at `index` has that `term`.
 */
export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: ProposalRejection; readonly leader: NodeId };

export type TransferRejection = 'notLeader' | 'unknownNode' | 'isLearner' | 'alreadyLeader' | 'transferring';
export type TransferResult = { readonly ok: true } | { readonly ok: false; readonly reason: TransferRejection; readonly leader: NodeId };

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly inflightMsgs: number;
  readonly isLearner: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly conf: ConfState;
  /** Set on the leader while a transfer is in progress. */
  readonly transferee: NodeId;
  /** Only on the leader. */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}

// ---------------------------------------------------------------------------------------------
// Ready
// ---------------------------------------------------------------------------------------------

/**
 * One batch of work for the application, returned by `RawNode.ready()`. There is at most one
 * Ready at a time: `ready()` again before `advance(ready)` throws a `TypeError`.
 *
 * The application handles a Ready in this order, then calls `advance(ready)`:
 *  1. Send `messages`. They may leave at once, before or while step 2 runs: nothing in them
 *     depends on this Ready being durable (a leader's appends and heartbeats, pre-vote traffic,
 *     vote requests…). This is what lets a leader write its log in parallel with replicating it
 *     (Raft thesis §10.2.1).
 *  2. Make `snapshot` (installed: state machine contents and log base), `entries` (first
 *     discarding any stored entries at or after `entries[0].index`) and `hardState` durable —
 *     all in ONE synced write when `mustSync` is true. Update the in-memory `Storage` view to match.
 *  3. Only once step 2 is durable, send `messagesAfterPersist`: append and vote responses, which
 *     promise that the sender persisted its entries and its vote. Sending them earlier can lose
 *     committed entries or elect two leaders in one term.
 *  4. Once step 2 is durable, apply `committedEntries` to the state machine in order (each is
 *     handed out exactly once; they may include this Ready's own `entries`), recording the
 *     applied index atomically with their effects. Those an earlier Ready made durable may be
 *     applied at once, while step 2 runs (committed entries never change).
 *  5. Serve `readStates` once the applied index reaches their `index`; fail `rejectedReads`.
 *  6. `advance(ready)`. Only now does the core count what this node's own write vouches for:
 *     the leader's own copy of its entries (towards commitment) and a candidate's own vote.
 *     Self-directed acknowledgements therefore never appear in either message list.
 *
 * Inputs (`step`, `tick`, `propose`…) may arrive between `ready()` and `advance()`; their work
 * comes out in the next Ready.
 */
export interface Ready {
  /** Present when leader or role changed since the last Ready. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed since the last Ready. */
  readonly hardState?: HardState;
  /** Entries to persist. */
  readonly entries: readonly Entry[];
  /** A snapshot to install (received from the leader). */
  readonly snapshot?: Snapshot;
  /** Entries committed and not yet handed out, to apply in order once this Ready is durable. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send now: they may leave before this Ready's write is durable. */
  readonly messages: readonly Message[];
  /** Messages to send only after this Ready's snapshot, entries and hard state are durable. */
  readonly messagesAfterPersist: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly rejectedReads: readonly RejectedRead[];
  /** True when term, vote or entries changed: the write in step 2 must be synced (fsync). */
  readonly mustSync: boolean;
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/** Injected randomness: the only source of randomness in the core. */
export interface Rng {
  /** A uniformly distributed integer in `[0, bound)`; `bound` is a positive integer. */
  nextInt(bound: number): number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Injected logger. Fields are plain data; the server prints them as one JSON line. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}
