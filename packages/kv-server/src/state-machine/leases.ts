/**
 * The lease table: which leases exist, their granted TTL, and which keys are attached to each.
 * Part of the replicated state machine, changed only by applied entries (grant, revoke, expire,
 * and the puts and deletes that attach and detach keys), so every replica holds the same table.
 * When a lease runs out is NOT in here: that is the leader's business (node/lessor.ts), which
 * ends a lease by proposing its expiry through the log.
 *
 * A lease's id is the log index of its grant: unique, and the same on every replica.
 *
 * Like the session table, the table lives in memory and is written through to the store (the
 * `ls<N>` sublevel, see storage/layout.ts), its changes drained once per applied batch. Records:
 *   key = lease id as u64 big-endian (8 bytes)             value = msgpack [ttlSeconds]
 *   key = lease id as u64 big-endian + user key (> 8 bytes) value = empty (the key is attached)
 * Changes made by a command are undone by `rollback()` when the command is refused part-way,
 * and kept by `commit()`: the same all-or-nothing rule as the user data (kv-state.ts).
 */
import { StateMachineError } from './errors.js';
import { keyId } from './kv-state.js';
import { pack, plainBytes, unpack } from './msgpack.js';
import { readUint64, writeUint64 } from './byte-order.js';

const ID_BYTES = 8;

export interface Lease {
  readonly id: number;
  readonly ttl: number;
  /** Attached keys by identity (`keyId`). */
  readonly keys: Map<string, Uint8Array>;
}

/** A lease-table record to write (`value` undefined: delete it). */
export type LeaseChange = readonly [key: Uint8Array, value: Uint8Array | undefined];

export class LeaseTable {
  private readonly leases = new Map<number, Lease>();
  /** The lease each attached key belongs to, by key identity. */
  private readonly owner = new Map<string, number>();
  /** Records changed since the last drain, by record identity (last change wins). */
  private readonly dirty = new Map<string, LeaseChange>();
  /** Undo steps of the current command, in order. */
  private readonly undo: Array<() => void> = [];

  /** The table the records of a `ls<N>` sublevel (or a snapshot) hold. Throws `StateMachineError('MALFORMED_LEASE')`. */
  static fromRecords(records: Iterable<readonly [Uint8Array, Uint8Array]>): LeaseTable {
    const table = new LeaseTable();
    const attachments: Array<readonly [number, Uint8Array]> = [];
    for (const [k, v] of records) {
      if (k.byteLength < ID_BYTES) throw malformed('a lease record key is shorter than a lease id');
      const id = readUint64(k, 0);
      if (k.byteLength === ID_BYTES) table.leases.set(id, { id, ttl: decodeTtl(v), keys: new Map() });
      else attachments.push([id, plainBytes(k.subarray(ID_BYTES))]);
    }
    for (const [id, key] of attachments) {
      const lease = table.leases.get(id);
      if (lease === undefined) throw malformed(`a key is attached to lease ${id}, which has no record`);
      lease.keys.set(keyId(key), key);
      table.owner.set(keyId(key), id);
    }
    return table;
  }

  get size(): number {
    return this.leases.size;
  }

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  /** Every lease, in no particular order. */
  values(): IterableIterator<Lease> {
    return this.leases.values();
  }

  /** The lease `key` is attached to, or undefined. */
  leaseOf(key: Uint8Array): number | undefined {
    return this.owner.get(keyId(key));
  }

  grant(id: number, ttl: number): void {
    if (this.leases.has(id)) throw new Error(`LeaseTable.grant: lease ${id} exists`);
    this.leases.set(id, { id, ttl, keys: new Map() });
    this.mark(leaseRecordKey(id), pack([ttl]));
    this.undo.push(() => {
      this.leases.delete(id);
    });
  }

  /** Remove lease `id` (its keys must have been detached). */
  remove(id: number): void {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    if (lease.keys.size > 0) throw new Error(`LeaseTable.remove: lease ${id} still holds keys`);
    this.leases.delete(id);
    this.mark(leaseRecordKey(id), undefined);
    this.undo.push(() => {
      this.leases.set(id, lease);
    });
  }

  /** Attach `key` to lease `id` (which must exist), detaching it from the lease it had. */
  attach(key: Uint8Array, id: number): void {
    const before = this.leaseOf(key);
    if (before === id) return;
    if (before !== undefined) this.detach(key);
    const lease = this.leases.get(id);
    if (lease === undefined) throw new Error(`LeaseTable.attach: no lease ${id}`);
    const k = keyId(key);
    // A copy: the table keeps the key as long as the lease lives, and the command's bytes may be a
    // view of something much larger (a chunk of the in-memory log, a socket read).
    lease.keys.set(k, new Uint8Array(key));
    this.owner.set(k, id);
    this.mark(attachmentKey(id, key), new Uint8Array(0));
    this.undo.push(() => {
      lease.keys.delete(k);
      this.owner.delete(k);
    });
  }

  /** Detach `key` (whose `keyId` is `k`) from its lease, if it has one. */
  detach(key: Uint8Array, k: string = keyId(key)): void {
    if (this.owner.size === 0) return; // no key has a lease (the common case: one map lookup less per write)
    const id = this.owner.get(k);
    if (id === undefined) return;
    const lease = this.leases.get(id)!;
    const kept = lease.keys.get(k)!;
    lease.keys.delete(k);
    this.owner.delete(k);
    this.mark(attachmentKey(id, key), undefined);
    this.undo.push(() => {
      lease.keys.set(k, kept);
      this.owner.set(k, id);
    });
  }

  /** Keep the current command's changes. */
  commit(): void {
    this.undo.length = 0;
  }

  /**
   * Undo the current command's changes. Their records stay marked dirty: each is written with the
   * table's value at drain time, which is the value before the command.
   */
  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo.length = 0;
  }

  /** The records changed since the last call (as the table holds them now), and forget them. */
  drainChanges(): LeaseChange[] {
    const out: LeaseChange[] = [];
    for (const [key] of this.dirty.values()) out.push([key, this.recordValue(key)]);
    this.dirty.clear();
    return out;
  }

  private mark(key: Uint8Array, value: Uint8Array | undefined): void {
    this.dirty.set(keyId(key), [key, value]);
  }

  /** The value the table holds for record `key` now (undefined: no such record). */
  private recordValue(key: Uint8Array): Uint8Array | undefined {
    const id = readUint64(key, 0);
    const lease = this.leases.get(id);
    if (lease === undefined) return undefined;
    if (key.byteLength === ID_BYTES) return pack([lease.ttl]);
    return lease.keys.has(keyId(key.subarray(ID_BYTES))) ? new Uint8Array(0) : undefined;
  }
}

function leaseRecordKey(id: number): Uint8Array {
  const out = new Uint8Array(ID_BYTES);
  writeUint64(out, 0, id);
  return out;
}

function attachmentKey(id: number, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(ID_BYTES + key.byteLength);
  writeUint64(out, 0, id);
  out.set(key, ID_BYTES);
  return out;
}

function decodeTtl(v: Uint8Array): number {
  let raw: unknown;
  try {
    raw = unpack(v);
  } catch (cause) {
    throw new StateMachineError('MALFORMED_LEASE', 'a lease record is not valid msgpack', { cause });
  }
  if (!Array.isArray(raw) || raw.length !== 1 || typeof raw[0] !== 'number' || !Number.isSafeInteger(raw[0]) || raw[0] < 1) {
    throw malformed('a lease record is not [ttlSeconds]');
  }
  return raw[0];
}

function malformed(message: string): StateMachineError {
  return new StateMachineError('MALFORMED_LEASE', message);
}
