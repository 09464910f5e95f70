/**
 * Receiving a snapshot: chunks are checked and written into a side data generation that no
 * reader looks at; nothing the node serves changes until the store swaps the generation in (one
 * small synced batch, see `StateStore.swapIn`). Until then the install can be dropped at no cost.
 */
import type { Member } from '@keel/protocol';
import type { SnapshotMeta } from '@keel/raft';
import { LeaseTable } from '../state-machine/leases.js';
import { SessionTableBuilder, type SessionTable } from '../state-machine/sessions.js';
import { StateMachineError } from '../state-machine/errors.js';
import { unpack } from '../state-machine/msgpack.js';
import { STORED_VALUE_HEADER_BYTES } from '../state-machine/stored-value.js';
import { HISTORY_KEY_BYTES } from '../state-machine/history.js';
import { isCount, toConf } from './codec.js';
import { StoreError } from './errors.js';
import { RECORD_AUTH, RECORD_HEADER, RECORD_HISTORY, RECORD_KV, RECORD_LEASE, RECORD_SESSION, RECORD_TRAILER, SNAPSHOT_FORMAT } from './snapshot-format.js';
import { AuthState } from '../state-machine/auth-state.js';

/** Records of one generation sublevel, in the order they arrived. */
export type Rows = ReadonlyArray<readonly [Uint8Array, Uint8Array]>;

/**
 * A snapshot being received. Call `write` for every chunk in order, then `complete()`; the
 * state store swaps it in (`StateStore.swapIn`) with the log store's persist of the Ready that
 * carries the snapshot. `abort()` discards it. A `write` that throws aborts the install.
 */
export interface SnapshotInstall {
  readonly meta: SnapshotMeta;
  /** Check and store one chunk. Throws `StoreError` MALFORMED_SNAPSHOT / SNAPSHOT_MISMATCH / SNAPSHOT_ABORTED. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Verify that every chunk arrived (trailer seen, record count matches) and stage the install:
   * `StateStore.swapIn` with this meta swaps it in.
   */
  complete(): Promise<void>;
  /** Discard the side area. Idempotent; a no-op once swapped in. */
  abort(): Promise<void>;
}


/** What an installer needs from its store. */
export interface InstallTarget {
  /** Write records into the side generation (one unsynced batch). */
  writeSide(kv: Rows, sessions: Rows, leases: Rows, history: Rows): Promise<void>;
  /** Clear the side generation. */
  clearSide(): Promise<void>;
  stage(installer: SnapshotInstaller): void;
  unstage(installer: SnapshotInstaller): void;
}

type State = 'receiving' | 'complete' | 'consumed' | 'aborted';

export class SnapshotInstaller implements SnapshotInstall {
  private state: State = 'receiving';
  private sawHeader = false;
  private sawTrailer = false;
  private records = 0;
  private readonly sessionBuilder = new SessionTableBuilder();
  private membersReceived: Member[] = [];
  private compactedReceived = 1;
  private sessionTable: SessionTable | undefined;
  private readonly leaseRecords: Array<readonly [Uint8Array, Uint8Array]> = [];
  private leaseTable: LeaseTable | undefined;
  private authState: AuthState | undefined;
  private authBytes: Uint8Array | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly meta: SnapshotMeta,
    /** The data generation the install writes into. */
    readonly generation: number,
    private readonly target: InstallTarget,
  ) {}

  /** Members with addresses carried by the snapshot (after `complete()`). */
  get members(): readonly Member[] {
    return this.membersReceived;
  }

  /** The oldest revision the snapshot's history keeps (after `complete()`). */
  get compacted(): number {
    return this.compactedReceived;
  }

  /** The session table carried by the snapshot (after `complete()`). */
  get sessions(): SessionTable {
    if (this.sessionTable === undefined) throw new Error('SnapshotInstaller.sessions before complete()');
    return this.sessionTable;
  }

  /** The lease table carried by the snapshot (after `complete()`). */
  get leases(): LeaseTable {
    if (this.leaseTable === undefined) throw new Error('SnapshotInstaller.leases before complete()');
    return this.leaseTable;
  }

  /** The auth state carried by the snapshot and its stored record (after `complete()`). */
  get auth(): { readonly state: AuthState; readonly record: Uint8Array } {
    if (this.authState === undefined || this.authBytes === undefined) throw new Error('SnapshotInstaller.auth before complete()');
    return { state: this.authState, record: this.authBytes };
  }

  get isComplete(): boolean {
    return this.state === 'complete';
  }

  write(chunk: Uint8Array): Promise<void> {
    const run = this.writing.then(() => this.writeNow(chunk));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writeNow(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'receiving') throw new StoreError('SNAPSHOT_ABORTED', `snapshot ${this.meta.index} install is ${this.state}`);
    try {
      const kv: Array<readonly [Uint8Array, Uint8Array]> = [];
      const sessions: Array<readonly [Uint8Array, Uint8Array]> = [];
      const leases: Array<readonly [Uint8Array, Uint8Array]> = [];
      const history: Array<readonly [Uint8Array, Uint8Array]> = [];
      for (const record of this.decodeChunk(chunk)) {
        if (!Array.isArray(record) || record.length === 0) throw malformed('a record is not an array');
        const tag = record[0];
        if (!this.sawHeader) {
          if (tag !== RECORD_HEADER) throw malformed('the first record is not the header');
          this.readHeader(record);
          continue;
        }
        if (this.sawTrailer) throw malformed('records after the trailer');
        if (tag === RECORD_AUTH) {
          if (record.length !== 2 || !(record[1] instanceof Uint8Array) || this.authState !== undefined) throw malformed('an auth record is not [5, record] or is not the only one');
          this.authState = AuthState.decode(record[1]);
          this.authBytes = new Uint8Array(record[1]);
        } else if (tag === RECORD_KV || tag === RECORD_SESSION || tag === RECORD_LEASE || tag === RECORD_HISTORY) {
          const [, key, value] = record as [unknown, unknown, unknown];
          if (record.length !== 3 || !(key instanceof Uint8Array) || !(value instanceof Uint8Array)) throw malformed('a data record is not [tag, key, value]');
          if (tag === RECORD_KV) {
            if (key.byteLength === 0 || value.byteLength < STORED_VALUE_HEADER_BYTES) throw malformed('a key-value record is malformed');
            kv.push([key, value]);
          } else if (tag === RECORD_HISTORY) {
            if (key.byteLength !== HISTORY_KEY_BYTES) throw malformed('a history record is malformed');
            history.push([key, value]);
          } else if (tag === RECORD_SESSION) {
            this.sessionBuilder.add(key, value);
            sessions.push([key, value]);
          } else {
            this.leaseRecords.push([key, value]);
            leases.push([key, value]);
          }
          this.records++;
        } else if (tag === RECORD_TRAILER) {
          if (record.length !== 2 || record[1] !== this.records) {
            throw malformed(`trailer counts ${String(record[1])} records, received ${this.records}`);
          }
          this.sawTrailer = true;
        } else {
          throw malformed(`unknown record tag ${String(tag)}`);
        }
      }
      if (kv.length > 0 || sessions.length > 0 || leases.length > 0 || history.length > 0) await this.target.writeSide(kv, sessions, leases, history);
    } catch (err) {
      await this.discard();
      if (err instanceof StateMachineError) throw new StoreError('MALFORMED_SNAPSHOT', err.message, { cause: err });
      throw err;
    }
  }

  private decodeChunk(chunk: Uint8Array): unknown[] {
    let records: unknown;
    try {
      records = unpack(chunk);
    } catch (cause) {
      throw new StoreError('MALFORMED_SNAPSHOT', 'snapshot chunk is not valid msgpack', { cause });
    }
    if (!Array.isArray(records)) throw malformed('a chunk is not an array of records');
    return records;
  }

  private readHeader(r: unknown[]): void {
    if (r.length !== 8 || r[1] !== SNAPSHOT_FORMAT || !isCount(r[2]) || !isCount(r[3]) || !Array.isArray(r[6]) || !isCount(r[7]) || r[7] < 1) {
      throw malformed('the header is not [0, format, index, term, voters, learners, members, compacted]');
    }
    this.compactedReceived = r[7];
    let conf;
    try {
      conf = toConf(r[4], r[5], 'snapshot header');
    } catch (cause) {
      throw new StoreError('MALFORMED_SNAPSHOT', 'snapshot header conf is malformed', { cause });
    }
    const m = this.meta;
    if (r[2] !== m.index || r[3] !== m.term || !sameIds(conf.voters, m.conf.voters) || !sameIds(conf.learners, m.conf.learners)) {
      throw new StoreError('SNAPSHOT_MISMATCH', `chunk of snapshot ${String(r[2])}/${String(r[3])}, installing ${m.index}/${m.term}`);
    }
    this.membersReceived = (r[6] as unknown[]).map((x): Member => {
      if (!Array.isArray(x) || x.length !== 4 || !isCount(x[0]) || (x[1] !== 0 && x[1] !== 1) || typeof x[2] !== 'string' || typeof x[3] !== 'string') {
        throw malformed('a member in the header is malformed');
      }
      return { id: x[0], role: x[1] === 0 ? 'voter' : 'learner', peerAddress: x[2], clientAddress: x[3] };
    });
    this.sawHeader = true;
  }

  async complete(): Promise<void> {
    await this.writing;
    if (this.state === 'complete') return;
    if (this.state !== 'receiving') throw new StoreError('SNAPSHOT_ABORTED', `snapshot ${this.meta.index} install is ${this.state}`);
    if (!this.sawTrailer || this.authState === undefined) {
      await this.discard();
      throw malformed(this.sawTrailer ? 'the snapshot has no auth record' : 'the snapshot ended before its trailer');
    }
    try {
      this.sessionTable = this.sessionBuilder.build();
      this.leaseTable = LeaseTable.fromRecords(this.leaseRecords);
    } catch (err) {
      await this.discard();
      throw new StoreError('MALFORMED_SNAPSHOT', (err as Error).message, { cause: err });
    }
    this.state = 'complete';
    this.target.stage(this);
  }

  /** Called by the store once the generation is swapped in. */
  markConsumed(): void {
    this.state = 'consumed';
  }

  async abort(): Promise<void> {
    if (this.state === 'consumed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.target.unstage(this);
    await this.writing; // let a write in flight land before clearing behind it
    await this.target.clearSide();
  }

  /** abort() from inside the write chain (must not wait for itself). */
  private async discard(): Promise<void> {
    if (this.state === 'consumed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.target.unstage(this);
    await this.target.clearSide();
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function malformed(message: string): StoreError {
  return new StoreError('MALFORMED_SNAPSHOT', message);
}
