/**
 * The client API: requests a client sends to any node's client port, and the responses.
 * Each frame on a client connection carries one `ClientRequest`, one `ClientResponse` or (from
 * the server) one `WatchEventsFrame`; requests are pipelined and matched to responses by `id`
 * (responses may arrive out of order). Keys and values travel as bytes.
 *
 * Watches (`watch`) are streams on the same connection: the server answers a watch request with
 * any number of `WatchEventsFrame`s tagged with the request's id, then exactly one ordinary
 * response with that id that ends the watch: ok (`{ revision }`, after a `watchCancel` or when
 * the node shuts down its watches) or an error (COMPACTED, WATCH_OVERFLOW, SHUTTING_DOWN,
 * UNAVAILABLE, …). The first frame comes at once, with no events, and says from which revision
 * the watch runs. Each frame carries the events of whole revisions only (a revision's changes
 * never straddle two frames) and `revision`: the watch has delivered every matching change up to
 * it. A client that loses the stream resumes, on any node, with `fromRevision` = that
 * revision + 1 and sees neither a gap nor a duplicate.
 *
 * A node serves a watch from the state it has applied: events up to its applied index, in
 * revision order. A follower behind the leader delivers later than the leader would, never out
 * of order and never with a gap; a `fromRevision` beyond the node's applied index waits until
 * the node gets there. A node that has known no leader for an election timeout (cut off from
 * the cluster) ends its watches with UNAVAILABLE and refuses new ones until it has a leader
 * again: resume on another node.
 */
import type { AuthRequest, AuthResults } from './auth-api.js';
import type { WireError } from './errors.js';

/** Documented limits; the server enforces them and answers TOO_LARGE / INVALID_ARGUMENT. */
export const LIMITS = {
  /** Largest key, in bytes. */
  keyBytesMax: 4 * 1024,
  /** Largest value, in bytes. */
  valueBytesMax: 1024 * 1024,
  /** Largest frame on any connection (client or peer), in bytes, length prefix excluded. */
  frameBytesMax: 16 * 1024 * 1024,
  /** Largest client request frame, in bytes. */
  requestBytesMax: 2 * 1024 * 1024,
  /** Most entries a scan returns in one response. */
  scanLimitMax: 10_000,
  /**
   * Most bytes of keys and values (plus a 64-byte allowance per row) one scan response carries:
   * half a frame, leaving ample room for the encoding around them. A scan stops early (`more`)
   * at this budget; one entry always fits.
   */
  scanResponseBytesMax: 8 * 1024 * 1024,
  /**
   * Most keys one `deleteRange` deletes. A range holding more is refused whole with TOO_LARGE
   * (nothing deleted): delete it in smaller ranges.
   */
  deleteRangeKeysMax: 10_000,
  /**
   * Most bytes of keys and values (plus 64 per entry) a `deleteRange` with `prevKv` returns. A
   * range whose deleted entries exceed it is refused whole with TOO_LARGE (nothing deleted).
   */
  deleteRangePrevKvBytesMax: 8 * 1024 * 1024,
  /**
   * Most bytes of keys and values (plus 64 per entry) one write deletes by range (a `deleteRange`,
   * or the range deletes of one txn together): the history records each deleted entry, so a
   * range holding more is refused whole with TOO_LARGE (nothing deleted).
   */
  deleteRangeBytesMax: 64 * 1024 * 1024,
  /**
   * Most compares of one txn, and most operations in each of its branches (`success`, `failure`).
   * More is refused with INVALID_ARGUMENT.
   */
  txnOpsMax: 128,
  /**
   * Most bytes of keys and values (plus 64 per entry) the answer to one txn carries: the entries
   * its gets and ranges read and the previous entries its writes return. A txn whose answer would
   * exceed it is refused whole with TOO_LARGE (nothing applied). The keys one txn deletes count
   * against `deleteRangeKeysMax` together.
   */
  txnResponseBytesMax: 8 * 1024 * 1024,
  /** Requests in flight on one client connection before the server answers OVERLOADED. */
  inflightPerConnectionMax: 4096,
  /**
   * Client connections one server keeps open at once (its default; a node may be configured
   * otherwise). Beyond it, the oldest connection that has sent nothing for a second makes room, or
   * else the newcomer; either receives one OVERLOADED error frame (id -1) and is closed.
   */
  clientConnectionsMax: 1024,
  /** Longest write-session client id, in UTF-8 bytes. */
  clientIdBytesMax: 128,
  /**
   * Shortest lease TTL, in seconds. Shorter is refused with INVALID_ARGUMENT: a lease must outlive
   * an election (a new leader gives every lease its full TTL again) and a keep-alive round trip.
   */
  leaseTtlSecondsMin: 2,
  /** Longest lease TTL, in seconds (one year). Longer is refused with INVALID_ARGUMENT. */
  leaseTtlSecondsMax: 365 * 24 * 3600,
  /** Most leases alive at once in a cluster. A grant beyond it is refused with TOO_LARGE. */
  leasesMax: 100_000,
  /** Watches open at once on one client connection; another is answered OVERLOADED. */
  watchesPerConnectionMax: 256,
  /**
   * Most bytes of events (keys, values, previous values, plus 64 per event) the server holds for
   * one watch while its connection does not take them. A watcher that falls this far behind the
   * live stream is cancelled with WATCH_OVERFLOW naming the last revision it was sent; it resumes
   * from there (catching up from history is paced by the connection and never overflows).
   */
  watchQueueBytesMax: 8 * 1024 * 1024,
} as const;

export const CLIENT_PROTOCOL_VERSION = 1;

/** `linearizable` reads go through ReadIndex; `serializable` reads are served locally and may be stale. */
export type Consistency = 'linearizable' | 'serializable';

/**
 * Identifies a write for exactly-once application across retries. A client picks a random
 * `clientId` once, numbers its writes with increasing `seq`, and resends the same identity when it
 * retries. `ackedBelow` tells the server that every seq below it was answered, so it may forget them.
 */
export interface WriteSession {
  readonly clientId: string;
  readonly seq: number;
  readonly ackedBelow: number;
}

/** What a CAS compares against: the current value, the key's modify revision, or absence. */
export type CasExpectation =
  | { readonly value: Uint8Array }
  | { readonly revision: number }
  | { readonly absent: true };

/** How a txn compare relates the key's current field to the given value (values: byte order). */
export type CompareOp = '=' | '!=' | '<' | '>';

/** The numeric fields of a key a txn may compare; 0 for a key that does not exist. */
export type CompareNumberTarget = 'version' | 'createRevision' | 'modRevision';

/**
 * One condition of a txn on one key's current state. A `value` compare on a key that does not
 * exist is false whatever `op`; the numeric fields of a missing key are 0 (so `version = 0`
 * also means "absent"); `exists` holds when the key's existence is `value`.
 */
export type TxnCompare =
  | { readonly key: Uint8Array; readonly target: 'value'; readonly op: CompareOp; readonly value: Uint8Array }
  | { readonly key: Uint8Array; readonly target: CompareNumberTarget; readonly op: CompareOp; readonly value: number }
  | { readonly key: Uint8Array; readonly target: 'exists'; readonly value: boolean };

/**
 * One operation of a txn branch. Operations apply in order, each seeing the effects of the ones
 * before it; every write of a txn has the txn's revision. `deleteRange` and `range` cover
 * `[start, end)` (no `end`: to the last key; an empty `start`: from the first).
 */
export type TxnOp =
  | {
      readonly op: 'put';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly prevKv?: boolean;
      /** Attach the key to this lease (it is deleted when the lease ends); absent: the key has no lease. */
      readonly lease?: number;
    }
  | { readonly op: 'delete'; readonly key: Uint8Array; readonly prevKv?: boolean }
  | { readonly op: 'deleteRange'; readonly start: Uint8Array; readonly end?: Uint8Array; readonly prevKv?: boolean }
  | { readonly op: 'get'; readonly key: Uint8Array }
  | { readonly op: 'range'; readonly start: Uint8Array; readonly end?: Uint8Array; readonly limit: number };

/** The result of one txn operation, in the order of the branch that ran. */
export type TxnOpResult =
  | { readonly op: 'put'; readonly prevKv?: KeyValue | null }
  | { readonly op: 'delete'; readonly deleted: boolean; readonly prevKv?: KeyValue | null }
  | { readonly op: 'deleteRange'; readonly deleted: number; readonly prevKvs?: readonly KeyValue[] }
  | { readonly op: 'get'; readonly kv: KeyValue | null }
  | { readonly op: 'range'; readonly kvs: readonly KeyValue[]; readonly more: boolean };

/** One change a watch delivers. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /** The revision (log index) of the write that made the change. */
  readonly revision: number;
  /**
   * A put: the key's new entry. A delete: the key, an empty value, `modRevision` = the revision
   * of the delete, `createRevision` and `version` 0.
   */
  readonly kv: KeyValue;
  /** With `prevKv`: the key's entry before the change (null: it did not exist). */
  readonly prevKv?: KeyValue | null;
}

/** Events of an open watch, pushed by the server, tagged with the watch request's `id`. */
export interface WatchEventsFrame {
  readonly id: number;
  readonly watch: {
    /** Changes in revision order; the events of one revision always travel together. */
    readonly events: readonly WatchEvent[];
    /** The watch has delivered every matching change up to this revision (this frame included). */
    readonly revision: number;
  };
}

export type ClientRequest =
  | { readonly id: number; readonly op: 'get'; readonly key: Uint8Array; readonly consistency: Consistency }
  | {
      readonly id: number;
      readonly op: 'put';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      /** Answer with the key's previous entry (`prevKv`, null when it did not exist). */
      readonly prevKv?: boolean;
      /**
       * Attach the key to this lease: it is deleted when the lease is revoked or expires. Absent:
       * the key has no lease (a put without one detaches the key from its old lease, as in etcd).
       * An unknown lease is refused with LEASE_NOT_FOUND.
       */
      readonly lease?: number;
      readonly session: WriteSession;
    }
  | {
      readonly id: number;
      readonly op: 'delete';
      readonly key: Uint8Array;
      /** Answer with the deleted entry (`prevKv`, null when it did not exist). */
      readonly prevKv?: boolean;
      readonly session: WriteSession;
    }
  | {
      readonly id: number;
      /**
       * Deletes every key in `[start, end)` (byte order; no `end`: to the last key; an empty
       * `start`: from the first) as one write, atomically, at most `LIMITS.deleteRangeKeysMax`.
       */
      readonly op: 'deleteRange';
      readonly start: Uint8Array;
      readonly end?: Uint8Array;
      /** Answer with the deleted entries (`prevKvs`, in key order). */
      readonly prevKv?: boolean;
      readonly session: WriteSession;
    }
  | {
      readonly id: number;
      readonly op: 'cas';
      readonly key: Uint8Array;
      readonly expect: CasExpectation;
      readonly value: Uint8Array;
      readonly session: WriteSession;
    }
  | {
      readonly id: number;
      /**
       * If every compare holds, runs `success`, else `failure`: atomically, as one write (one log
       * entry), at most `LIMITS.txnOpsMax` compares and operations per branch.
       */
      readonly op: 'txn';
      readonly compare: readonly TxnCompare[];
      readonly success: readonly TxnOp[];
      readonly failure: readonly TxnOp[];
      readonly session: WriteSession;
    }
  | {
      readonly id: number;
      readonly op: 'scan';
      /** Inclusive start; with `end`, exclusive end. Or `prefix` alone. */
      readonly start?: Uint8Array;
      readonly end?: Uint8Array;
      readonly prefix?: Uint8Array;
      readonly limit: number;
      readonly consistency: Consistency;
    }
  | {
      readonly id: number;
      /**
       * Stream every change to the keys in a range, from `fromRevision` (absent: the node's next
       * revision). The range is exactly one of: `key` (that key), `prefix` (non-empty: every key
       * starting with it), or `start` with optional `end` (`[start, end)`; an empty `start` and
       * no `end`: every key). See the module doc for the stream.
       */
      readonly op: 'watch';
      readonly key?: Uint8Array;
      readonly prefix?: Uint8Array;
      readonly start?: Uint8Array;
      readonly end?: Uint8Array;
      readonly fromRevision?: number;
      /** Each event carries the key's previous entry. */
      readonly prevKv?: boolean;
    }
  /** End the watch this connection opened with request id `watchId` (its stream ends with an ok response). */
  | { readonly id: number; readonly op: 'watchCancel'; readonly watchId: number }
  /** Make `revision` (at most the node's applied index) the oldest revision the history keeps: watches from before it fail COMPACTED. */
  | { readonly id: number; readonly op: 'compact'; readonly revision: number }
  | { readonly id: number; readonly op: 'status' }
  /** This node's state-machine digest (`StateDigest`): compare nodes after the cluster is quiet. */
  | { readonly id: number; readonly op: 'digest' }
  | { readonly id: number; readonly op: 'memberList' }
  | {
      readonly id: number;
      readonly op: 'memberAdd';
      readonly nodeId: number;
      readonly peerAddress: string;
      readonly clientAddress: string;
      readonly learner: boolean;
      /**
       * Add a voter directly (`learner: false`). Without it the server refuses: a voter that is
       * not running and caught up counts toward the quorum at once and can stop every write.
       * Add a learner, then promote it once it caught up.
       */
      readonly force?: boolean;
    }
  | { readonly id: number; readonly op: 'memberPromote'; readonly nodeId: number }
  | { readonly id: number; readonly op: 'memberRemove'; readonly nodeId: number }
  | { readonly id: number; readonly op: 'leaderTransfer'; readonly to: number }
  /**
   * Grant a lease of `ttl` seconds (`LIMITS.leaseTtlSecondsMin`..`leaseTtlSecondsMax`). Its id is
   * the log index of the grant. It expires `ttl` seconds after the last keep-alive the leader saw
   * (a new leader gives it the full `ttl` again); its keys are then deleted through the log.
   */
  | { readonly id: number; readonly op: 'leaseGrant'; readonly ttl: number; readonly session: WriteSession }
  /** Revoke a lease now: its keys are deleted in the same write. LEASE_NOT_FOUND when it does not exist. */
  | { readonly id: number; readonly op: 'leaseRevoke'; readonly lease: number; readonly session: WriteSession }
  /** Renew a lease to its full TTL (leader only: NOT_LEADER elsewhere). LEASE_NOT_FOUND when it has ended. */
  | { readonly id: number; readonly op: 'leaseKeepAlive'; readonly lease: number }
  /** A lease's granted and remaining TTL (leader only), with its keys when `keys`. */
  | { readonly id: number; readonly op: 'leaseTimeToLive'; readonly lease: number; readonly keys?: boolean }
  /** Every lease alive (leader only). */
  | { readonly id: number; readonly op: 'leaseList' }
  | AuthRequest;

export type ClientOp = ClientRequest['op'];

export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Log index of the write that created the key (since its last delete). */
  readonly createRevision: number;
  /** Log index of the last write to the key. */
  readonly modRevision: number;
  /** Number of writes to the key since it was created (1 for a new key; a delete resets it). */
  readonly version: number;
}

export interface Member {
  readonly id: number;
  readonly role: 'voter' | 'learner';
  readonly peerAddress: string;
  readonly clientAddress: string;
}

export interface NodeStatus {
  readonly id: number;
  readonly role: 'follower' | 'preCandidate' | 'candidate' | 'leader';
  readonly term: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly clientAddress: string;
  /** Where the node's admin HTTP listener (metrics, health, dashboard, backups) is reached; absent when it has none. */
  readonly adminAddress?: string;
}

/**
 * A node's user data as of one applied index, read from one consistent view of its store: nodes
 * that applied the same log prefix report the same `digest`.
 */
export interface StateDigest {
  /** The applied index the digest describes. */
  readonly applied: number;
  /**
   * SHA-256 (hex) over the applied index and every key in byte order with its value, create
   * revision and modify revision.
   */
  readonly digest: string;
  /** How many keys the digest covers. */
  readonly keys: number;
}

/**
 * Result shapes, by op. `revision` is the log index at which a write applied. `prevKv`/`prevKvs`
 * are present when asked for, except in the answer to a retried write that had already applied:
 * the server answers those from its session table, which keeps no values.
 */
export interface ClientResults extends AuthResults {
  get: { readonly kv: KeyValue | null; readonly revision: number };
  put: { readonly revision: number; readonly prevKv?: KeyValue | null };
  delete: { readonly revision: number; readonly deleted: boolean; readonly prevKv?: KeyValue | null };
  deleteRange: { readonly revision: number; readonly deleted: number; readonly prevKvs?: readonly KeyValue[] };
  cas: { readonly revision: number; readonly succeeded: boolean };
  /**
   * `succeeded`: every compare held (`success` ran). `results`: one per operation of the branch
   * that ran; absent in the answer to a retried txn that had already applied (the session table
   * keeps no values).
   */
  txn: { readonly revision: number; readonly succeeded: boolean; readonly results?: readonly TxnOpResult[] };
  scan: { readonly kvs: readonly KeyValue[]; readonly more: boolean; readonly revision: number };
  /** The end of a watch's stream: the last revision it covered (resume from the next one). */
  watch: { readonly revision: number };
  /** `canceled`: the watch was open on this connection (false: it had ended or never existed). */
  watchCancel: { readonly canceled: boolean };
  /** `revision`: the log index of the compaction; `compactRevision`: the oldest revision kept now. */
  compact: { readonly revision: number; readonly compactRevision: number };
  status: NodeStatus;
  digest: StateDigest;
  memberList: { readonly members: readonly Member[]; readonly leader: number };
  memberAdd: { readonly members: readonly Member[] };
  memberPromote: { readonly members: readonly Member[] };
  memberRemove: { readonly members: readonly Member[] };
  leaderTransfer: { readonly leader: number };
  leaseGrant: { readonly revision: number; readonly lease: number; readonly ttl: number };
  /** `deleted`: how many keys the lease held (deleted with it). */
  leaseRevoke: { readonly revision: number; readonly deleted: number };
  leaseKeepAlive: { readonly lease: number; readonly ttl: number };
  /**
   * `ttl`: the granted TTL; `remaining`: whole seconds until the leader expires it without a
   * keep-alive (rounded up). `keys` (when asked): the keys attached, in byte order.
   */
  leaseTimeToLive: { readonly lease: number; readonly ttl: number; readonly remaining: number; readonly keys?: readonly Uint8Array[] };
  leaseList: { readonly leases: readonly number[] };
}

export type ClientResponse =
  | { readonly id: number; readonly ok: true; readonly result: ClientResults[ClientOp] }
  | { readonly id: number; readonly ok: false; readonly error: WireError };
