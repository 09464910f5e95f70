/**
 * The lock workload: every logical client takes the lock `lock` (`KeelClient.lock`, lease TTL
 * 2 s), writes the guarded resource `fenced/res` three times under its fencing token, and
 * unlocks; then again. A write is one txn on the resource's fence `fenced/fence`, which holds the
 * highest token accepted so far (16 digits, so that byte order is number order): compare the
 * fence below token + 1, then put the fence and the resource. The setup puts token 0 in the fence.
 *
 * The holder does not check that it still holds the lock before it writes: a holder whose lease
 * ran out (cut off, its keep-alives lost) keeps writing as a paused process would, and the fence
 * must refuse it once a later holder has written. So that this happens in every run, one hold in
 * STALL_ONE_IN stalls before its first write as a paused process: it stops keeping its lease
 * alive and sleeps STALL_MS (the TTL and then some), so the lock passes on and the next holder
 * writes before the stalled one does. A refused write ends the hold (the holder unlocks). A holder whose operation came back indeterminate stops keeping its lease alive
 * without revoking it, as a holder that crashed: the lock passes on when the lease expires.
 * Waiting for the lock is bounded (ACQUIRE_WAIT_MS): past it the acquire is indeterminate.
 */
import type { Consistency, HeldLock, KeelClient } from '@keel/client';
import type { Rng } from '../rng.js';
import { outcome } from './outcome.js';
import type { Completion, Invocation } from './recorder.js';
import type { Role, Workload } from './workload.js';

export const LOCK_NAME = 'lock';
export const RESOURCE = 'fenced/res';
export const FENCE = 'fenced/fence';
/** The lock's lease TTL in seconds: the shortest a lease can be, so a lost holder is overtaken fast. */
export const LOCK_TTL_S = 2;
/** Writes per hold. */
export const WRITES_PER_HOLD = 3;
/** How long an acquire waits in line before the workload gives up on it (indeterminate). */
export const ACQUIRE_WAIT_MS = 5_000;
/** One hold in this many stalls before its first write, past its lease. */
export const STALL_ONE_IN = 10;
/** How long a stalled holder sleeps, its lease no longer kept alive: the TTL, then time for the next holder to write. */
export const STALL_MS = LOCK_TTL_S * 1000 + 2_000;

/** A token as the fence stores it: byte order is number order. */
export const fenceText = (token: number): string => String(token).padStart(16, '0');

interface Hold {
  readonly token: number;
  writes: number;
}

export class LockWorkload implements Workload {
  readonly name = 'lock';
  readonly setup: readonly Invocation[] = [{ f: 'write', key: FENCE, value: fenceText(0) }];
  readonly final: readonly Invocation[] = [];
  /** Each logical client's hold, by process. */
  private readonly holds = new Map<number, Hold>();
  /** The held locks, by token (a release or an abandoned hold needs the lock object). */
  private readonly locks = new Map<number, HeldLock>();
  /** The writes (by n) that stall before they are sent. */
  private readonly stalls = new Set<number>();
  private nextWrite = 1;

  next(rng: Rng, _role: Role, process: number): Invocation {
    const hold = this.holds.get(process);
    if (hold === undefined) return { f: 'acquire', key: LOCK_NAME, value: null };
    if (hold.writes >= WRITES_PER_HOLD) return { f: 'release', key: LOCK_NAME, value: hold.token };
    const n = this.nextWrite++;
    if (hold.writes === 0 && rng.chance(1 / STALL_ONE_IN)) this.stalls.add(n);
    return { f: 'fenced-write', key: RESOURCE, value: [hold.token, n] };
  }

  observe(call: Invocation, done: Completion, process: number): void {
    const hold = this.holds.get(process);
    if (call.f === 'acquire' && done.type === 'ok') this.holds.set(process, { token: done.revision!, writes: 0 });
    else if (hold === undefined) return;
    else if (done.type === 'info') {
      // The process retires: abandon the hold as a crashed holder would; its lease expires.
      this.locks.get(hold.token)?.lease.release();
      this.locks.delete(hold.token);
      this.holds.delete(process);
    } else if (call.f === 'fenced-write') {
      // Refused by the fence: a later holder wrote, so this hold is over.
      hold.writes = done.type === 'fail' && done.error === undefined ? WRITES_PER_HOLD : hold.writes + 1;
    } else if (call.f === 'release') {
      this.locks.delete(hold.token);
      this.holds.delete(process);
    }
  }

  execute(client: KeelClient, call: Invocation, _consistency: Consistency, _role: Role): Promise<Completion> {
    switch (call.f) {
      case 'write':
        return outcome(async () => {
          await client.put(call.key, call.value as string);
          return { type: 'ok', value: call.value };
        }, call.value);
      case 'acquire':
        return outcome(async () => {
          const signal = AbortSignal.timeout(ACQUIRE_WAIT_MS);
          try {
            const held = await client.lock(LOCK_NAME, { ttl: LOCK_TTL_S, signal });
            this.locks.set(held.fencingToken, held);
            return { type: 'ok', value: null, revision: held.fencingToken };
          } catch (error) {
            if (!signal.aborted) throw error;
            return { type: 'info', value: null, error: { code: 'TIMEOUT', message: `gave up waiting for the lock after ${ACQUIRE_WAIT_MS} ms` } };
          }
        }, null);
      case 'fenced-write': {
        const [token, n] = call.value as readonly [number, number];
        return outcome(async () => {
          if (this.stalls.delete(n)) {
            this.locks.get(token)?.lease.release();
            await new Promise((resolve) => setTimeout(resolve, STALL_MS));
          }
          const r = await client.txn({
            compare: [{ key: FENCE, target: 'value', op: '<', value: fenceText(token + 1) }],
            success: [
              { op: 'put', key: FENCE, value: fenceText(token) },
              { op: 'put', key: RESOURCE, value: `${token}:${n}` },
            ],
          });
          return r.succeeded ? { type: 'ok', value: call.value, revision: r.revision } : { type: 'fail', value: call.value };
        }, call.value);
      }
      case 'release': {
        const held = this.locks.get(call.value as number);
        return outcome(async () => {
          await held?.unlock();
          return { type: 'ok', value: call.value };
        }, call.value);
      }
      default:
        throw new TypeError(`the lock workload has no ${call.f} operation`);
    }
  }
}
