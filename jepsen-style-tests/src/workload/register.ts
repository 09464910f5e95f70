/**
 * The register workload: per-key read, write (a value unique across the run), compare-and-swap
 * and delete over a few keys at a time, checked for linearizability key by key.
 *
 * To keep the checker's search tractable (see the checker README), each of `keys` slots holds one
 * key at a time and moves to a fresh key after `opsPerKey` operations (`k2.0`, `k2.1`, …, as
 * Jepsen's independent keys), so a key sees a bounded number of operations; every logical client
 * picks a slot per operation, so at most clients + probes of them are in flight on one key.
 * A cas expects the value last seen on its slot (read, written or swapped in), so that many swap.
 */
import type { CasCondition, Consistency, KeelClient } from '@keel/client';
import type { Scalar } from '../history/op.js';
import type { Rng } from '../rng.js';
import { decodeValue, encodeValue, outcome } from './outcome.js';
import type { Completion, Invocation } from './recorder.js';
import type { Role, Workload } from './workload.js';

export interface RegisterOptions {
  /** Keys in use at once. Default 5. */
  readonly keys?: number;
  /** Operations on one key before its slot moves to a fresh key. Default 300. */
  readonly opsPerKey?: number;
}

const MIX: Readonly<Record<Role, Readonly<Record<'read' | 'write' | 'cas' | 'delete', number>>>> = {
  client: { read: 40, write: 30, cas: 25, delete: 5 },
  // Probes are pinned to one node each: mostly reads, so that a node cut off with stale data is asked often.
  probe: { read: 80, write: 10, cas: 10, delete: 0 },
};

interface Slot {
  generation: number;
  issued: number;
  /** The last value seen on the slot's key, null = absent. */
  seen: Scalar | null;
}

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  readonly setup: readonly Invocation[] = [];
  readonly final: readonly Invocation[] = [];
  private readonly slots: Slot[];
  private readonly opsPerKey: number;
  private nextValue = 1;

  constructor(options: RegisterOptions = {}) {
    this.slots = Array.from({ length: options.keys ?? 5 }, () => ({ generation: 0, issued: 0, seen: null }));
    this.opsPerKey = options.opsPerKey ?? 300;
  }

  next(rng: Rng, role: Role): Invocation {
    const index = rng.int(this.slots.length);
    const slot = this.slots[index]!;
    if (slot.issued >= this.opsPerKey) Object.assign(slot, { generation: slot.generation + 1, issued: 0, seen: null });
    slot.issued++;
    const key = `k${index}.${slot.generation}`;
    const f = rng.weighted(MIX[role]);
    switch (f) {
      case 'read':
      case 'delete':
        return { f, key, value: null };
      case 'write':
        return { f, key, value: this.nextValue++ };
      case 'cas':
        return { f, key, value: [slot.seen, this.nextValue++] };
    }
  }

  observe(call: Invocation, done: Completion): void {
    if (done.type !== 'ok') return;
    const slot = this.slotOf(call.key);
    if (slot === undefined) return;
    if (call.f === 'read') slot.seen = done.value as Scalar | null;
    else if (call.f === 'write') slot.seen = call.value as Scalar;
    else if (call.f === 'cas') slot.seen = (call.value as readonly [Scalar | null, Scalar])[1];
    else if (call.f === 'delete') slot.seen = null;
  }

  execute(client: KeelClient, call: Invocation, consistency: Consistency): Promise<Completion> {
    const { key } = call;
    switch (call.f) {
      case 'read':
        return outcome(async () => {
          const entry = await client.get(key, { consistency });
          return { type: 'ok', value: entry === null ? null : decodeValue(entry.text) };
        }, null);
      case 'write':
        return outcome(async () => {
          await client.put(key, encodeValue(call.value as Scalar));
          return { type: 'ok', value: call.value };
        }, call.value);
      case 'cas': {
        const [expected, value] = call.value as readonly [Scalar | null, Scalar];
        const condition: CasCondition = expected === null ? { expectAbsent: true } : { expectValue: encodeValue(expected) };
        return outcome(async () => {
          const { succeeded } = await client.cas(key, condition, encodeValue(value));
          return { type: succeeded ? 'ok' : 'fail', value: call.value };
        }, call.value);
      }
      case 'delete':
        return outcome(async () => {
          await client.delete(key);
          return { type: 'ok', value: null };
        }, null);
      default:
        throw new TypeError(`the register workload has no ${call.f} operation`);
    }
  }

  /** The slot whose current key is `key`; undefined once the slot moved on. */
  private slotOf(key: string): Slot | undefined {
    const m = /^k(\d+)\.(\d+)$/.exec(key);
    const slot = m === null ? undefined : this.slots[Number(m[1])];
    return slot !== undefined && slot.generation === Number(m![2]) ? slot : undefined;
  }
}
