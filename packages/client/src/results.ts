/**
 * What {@link KeelClient} methods return.
 */
import type { KeelError, Member, NodeStatus } from '@keel/protocol';
import type { KvEntry } from './entry.js';

/** A write's position in the log. */
export interface PutResult {
  /** Revision (log index) at which the write applied. */
  readonly revision: number;
  /** With `prevKv`: the entry the put replaced, `null` when the key did not exist (see `PrevKvOptions`). */
  readonly prevKv?: KvEntry | null;
}

export interface DeleteResult {
  /** Revision at which the delete applied. */
  readonly revision: number;
  /** False when the key did not exist. */
  readonly deleted: boolean;
  /** With `prevKv`: the entry deleted, `null` when the key did not exist (see `PrevKvOptions`). */
  readonly prevKv?: KvEntry | null;
}

export interface DeleteRangeResult {
  /** Revision at which the range delete applied. */
  readonly revision: number;
  /** How many keys it deleted. */
  readonly deleted: number;
  /** With `prevKv`: the entries deleted, in key order (see `PrevKvOptions`). */
  readonly prevKvs?: readonly KvEntry[];
}

export interface CasResult {
  /** True when the condition held and the new value was written. */
  readonly succeeded: boolean;
  /** Revision at which the compare-and-swap was decided (applied, when it succeeded). */
  readonly revision: number;
}

export interface ScanResult {
  /** Matching entries in ascending key (byte) order, at most `limit`. */
  readonly entries: readonly KvEntry[];
  /** True when more keys match beyond the last entry (scan again from after it). */
  readonly more: boolean;
  /** Revision (applied index) the scan observed. */
  readonly revision: number;
}

/** One endpoint's answer to `status()`: its status, or why it could not be had. */
export type EndpointStatus =
  | { readonly endpoint: string; readonly ok: true; readonly status: NodeStatus }
  | { readonly endpoint: string; readonly ok: false; readonly error: KeelError };

export interface MemberList {
  readonly members: readonly Member[];
  /** Id of the leader, 0 when none is known. */
  readonly leader: number;
}

/** A new member's identity and addresses. */
export interface NewMember {
  /** Node id: a positive integer not used before in this cluster. */
  readonly id: number;
  /** Address ("host:port") the other nodes dial for Raft traffic. */
  readonly peerAddress: string;
  /** Address ("host:port") clients dial. */
  readonly clientAddress: string;
}
