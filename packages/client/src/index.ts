/**
 * @keel/client — talk to a Keel cluster from Node.js.
 *
 * `KeelClient` connects to the nodes you list, finds the leader, follows `NOT_LEADER` redirects,
 * fails over when a node is unreachable, and retries writes with the same write-session identity
 * so that a retried write applies at most once. Keys and values are strings (UTF-8) or bytes.
 *
 * @example
 * ```ts
 * import { KeelClient, isKeelError } from '@keel/client';
 *
 * const client = new KeelClient({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] });
 * try {
 *   const { revision } = await client.put('greeting', 'hello');
 *   const entry = await client.get('greeting');                 // linearizable by default
 *   console.log(entry?.text, entry?.revision === revision);     // "hello" true
 *   const swapped = await client.cas('greeting', { expectRevision: revision }, 'hi');
 *   const { entries } = await client.scan({ prefix: 'greet' }, { limit: 10 });
 *   const stale = await client.get('greeting', { consistency: 'serializable' }); // may lag
 * } catch (error) {
 *   if (isKeelError(error) && !error.definite) {
 *     // A write timed out after it was sent: it may or may not have been applied.
 *   }
 *   throw error;
 * } finally {
 *   await client.close();
 * }
 * ```
 */
export { KeelClient } from './client.js';
export type { LeaseGrantOptions, LeaseTimeToLive, PrevKvOptions, PutOptions, ReadOptions, ScanOptions } from './client.js';
export { Lease } from './lease.js';
export { HeldLock, DEFAULT_LOCK_TTL_SECONDS } from './recipes/lock.js';
export type { LockOptions } from './recipes/lock.js';
export { Election, Leadership } from './recipes/election.js';
export type { CampaignOptions, ElectionLeader } from './recipes/election.js';
export type { WaitOptions } from './recipes/queue.js';
export type { AuthOptions, KeelClientOptions, ReadRouting, TlsOptions } from './options.js';
export type { PermissionRange } from './auth.js';
export { describePermissionRange, permissionInterval } from './auth.js';
export { DEFAULT_STALL_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from './options.js';
export { KvEntry } from './entry.js';
export { KeelWatch, WATCH_BUFFER_BYTES_MAX } from './watch.js';
export type { WatchChange, WatchOptions, WatchTarget } from './watch.js';
export type { CasResult, DeleteRangeResult, DeleteResult, EndpointStatus, MemberList, NewMember, PutResult, ScanResult } from './results.js';
export type { CasCondition, DeleteRange, ScanRange } from './validate.js';
export type { Compare, TxnOperation, TxnOperationResult, TxnRequest, TxnResult } from './txn.js';
export { DEFAULT_SCAN_LIMIT } from './validate.js';
export type { BytesInput } from './bytes.js';
export { ERROR_CODES, KeelError, LIMITS, isKeelError } from '@keel/protocol';
export type { CompareOp, Consistency, ErrorCode, Member, NodeStatus, Permission, PermissionMode, StateDigest } from '@keel/protocol';
