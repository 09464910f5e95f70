/**
 * Watches in the client library: {@link KeelWatch} streams every change to a key, a prefix or a
 * range, in revision order, with neither gap nor duplicate, for as long as it is iterated.
 *
 * It resumes by itself: when its stream ends for a reason that says nothing about the watch (the
 * node went away, shut down, cut the watcher off as too slow with WATCH_OVERFLOW, was overloaded
 * or unavailable — which includes a node that has known no leader for an election timeout: it
 * ends its watches with UNAVAILABLE rather than let them stall), it opens the watch again — on whichever node the client routes to — from the
 * revision after the last one the server reported covered (`revision`). Only an error about the
 * watch itself ends the iteration: COMPACTED (its `compactRevision` names the oldest revision
 * still available), INVALID_ARGUMENT, TOO_LARGE, or the client being closed (CONNECTION_LOST).
 *
 * Memory: changes the consumer has not taken yet wait in the watch. Past
 * `WATCH_BUFFER_BYTES_MAX` the watch stops its stream (watchCancel) and opens it again, from
 * where it left off, once the consumer has taken half of them: a slow consumer slows the watch
 * down instead of growing its buffer.
 */
import { KeelError, type WatchEvent, type WatchEventsFrame } from '@keel/protocol';
import type { RequestBody } from './connection.js';
import { KvEntry } from './entry.js';
import { checkKey } from './validate.js';
import { describeType, toBytes, type BytesInput } from './bytes.js';

/** What to watch: one key, every key with a prefix, or the keys in `[start, end)` (no end: to the last key; an empty start: from the first). */
export type WatchTarget = BytesInput | { readonly prefix: BytesInput } | { readonly start: BytesInput; readonly end?: BytesInput };

export interface WatchOptions {
  /**
   * First revision to deliver. Default: the revision after the serving node's applied index
   * (changes from now on; `ready` resolves with the revision the watch starts after).
   */
  readonly fromRevision?: number;
  /** Each change also carries the key's previous entry (`prevKv`, null when it did not exist). */
  readonly prevKv?: boolean;
}

/** One change a watch delivers. */
export interface WatchChange {
  readonly type: 'put' | 'delete';
  /** Revision of the write that made the change. Several changes may share one (a txn, a range delete). */
  readonly revision: number;
  /** A put: the new entry. A delete: the key, an empty value, `revision` = the delete's. */
  readonly kv: KvEntry;
  /** With `prevKv`: the entry before the change (null: the key did not exist). */
  readonly prevKv?: KvEntry | null;
}

/** Changes a watch holds for its consumer before it pauses its stream (bytes of keys and values). */
export const WATCH_BUFFER_BYTES_MAX = 8 * 1024 * 1024;

/** Error codes after which a watch opens its stream again (elsewhere); any other ends it. */
const RESUMABLE: ReadonlySet<string> = new Set(['CONNECTION_LOST', 'SHUTTING_DOWN', 'WATCH_OVERFLOW', 'UNAVAILABLE', 'OVERLOADED', 'TIMEOUT', 'NOT_LEADER']);

/** How a watch reaches the cluster (the client provides it). */
export interface WatchStreams {
  /** Open the watch `body` on some node; frames go to `onFrame` until `result` settles. */
  open(body: RequestBody, onFrame: (frame: WatchEventsFrame['watch']) => void): Promise<{ readonly result: Promise<unknown>; cancel(): void }>;
  /** The stream failed with `error` (the client may avoid that node for a while). */
  failed(error: KeelError): void;
  /** Wait before attempt `attempt` (0-based) after a failure. */
  backoff(attempt: number): Promise<void>;
  readonly closed: boolean;
  /** The watch has ended (cancelled or failed). */
  ended(): void;
}

type WatchBody = Extract<RequestBody, { op: 'watch' }>;

export class KeelWatch implements AsyncIterable<WatchChange> {
  private covered: number;
  private readonly queue: WatchChange[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private paused = false;
  private ended = false;
  private error: KeelError | undefined;
  private current: { cancel(): void } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeRunner: (() => void) | undefined;
  private resolveReady!: (revision: number) => void;
  private rejectReady!: (error: KeelError) => void;
  /** Resolves with the revision the watch starts after, once the first node confirmed it (rejects if it ends first). */
  readonly ready: Promise<number>;

  constructor(
    private readonly range: Omit<WatchBody, 'op' | 'fromRevision' | 'prevKv'>,
    private readonly options: { readonly fromRevision: number | undefined; readonly prevKv: boolean },
    private readonly streams: WatchStreams,
  ) {
    this.covered = (options.fromRevision ?? 0) - 1;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // the iteration reports it too
    void this.run();
  }

  /**
   * Every change up to this revision has been received (delivered, or waiting in the buffer); a
   * new watch from `revision + 1` would continue exactly where this one is.
   */
  get revision(): number {
    return this.covered;
  }

  /** Stop watching; the iteration ends after the changes already received. Idempotent. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.current?.cancel();
    this.rejectReady(new KeelError('CONNECTION_LOST', 'the watch was cancelled'));
    this.wake();
    this.streams.ended();
  }

  /** End the watch with `error` (the client was closed): the iteration throws it after the changes already received. */
  abort(error: KeelError): void {
    if (!this.ended) this.fail(error);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchChange> {
    try {
      for (;;) {
        if (this.queueHead < this.queue.length) {
          const change = this.queue[this.queueHead++]!;
          this.queuedBytes -= changeBytes(change);
          if (this.queueHead === this.queue.length) {
            this.queue.length = 0;
            this.queueHead = 0;
          }
          if (this.paused && this.queuedBytes <= WATCH_BUFFER_BYTES_MAX / 2) {
            this.paused = false;
            this.wakeRunner?.();
          }
          yield change;
          continue;
        }
        if (this.error !== undefined) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      }
    } finally {
      this.cancel();
    }
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
    this.wakeRunner?.();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.ended) {
      if (this.streams.closed) return this.fail(new KeelError('CONNECTION_LOST', 'the client was closed'));
      if (this.paused) {
        await new Promise<void>((resolve) => (this.wakeRunner = resolve));
        this.wakeRunner = undefined;
        continue;
      }
      const body: WatchBody = {
        op: 'watch',
        ...this.range,
        ...(this.covered >= 0 ? { fromRevision: this.covered + 1 } : {}),
        ...(this.options.prevKv ? { prevKv: true } : {}),
      };
      try {
        const stream = await this.streams.open(body, (frame) => {
          attempt = 0;
          this.receive(frame);
        });
        this.current = stream;
        if (this.ended) stream.cancel();
        await stream.result;
      } catch (caught) {
        if (this.ended) return;
        const error = caught instanceof KeelError ? caught : new KeelError('INTERNAL', `the watch failed: ${String(caught)}`);
        if (!RESUMABLE.has(error.code) || this.streams.closed) return this.fail(error);
        this.streams.failed(error);
        await this.streams.backoff(attempt++);
      } finally {
        this.current = undefined;
      }
    }
  }

  private receive(frame: WatchEventsFrame['watch']): void {
    if (this.ended) return;
    const before = this.covered;
    for (const e of frame.events) {
      if (e.revision <= before) continue; // never delivered twice (a server bug would otherwise show)
      const change = toChange(e);
      this.queue.push(change);
      this.queuedBytes += changeBytes(change);
    }
    this.covered = Math.max(before, frame.revision);
    this.resolveReady(this.covered);
    if (!this.paused && this.queuedBytes > WATCH_BUFFER_BYTES_MAX) {
      this.paused = true;
      this.current?.cancel();
    }
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }

  private fail(error: KeelError): void {
    this.error = error;
    this.ended = true;
    this.current?.cancel();
    this.rejectReady(error);
    this.wake();
    this.streams.ended();
  }
}

/** The wire range of a watch target (validated; `TypeError` for wrong types). */
export function watchRange(target: WatchTarget): Omit<WatchBody, 'op' | 'fromRevision' | 'prevKv'> {
  if (typeof target === 'string' || target instanceof Uint8Array) return { key: checkKey(target) };
  if (typeof target !== 'object' || target === null) throw new TypeError(`watch target must be a key, { prefix } or { start, end }, got ${describeType(target)}`);
  const t = target as Record<string, unknown>;
  if (t['prefix'] !== undefined) {
    if (t['start'] !== undefined || t['end'] !== undefined) throw new TypeError('watch target takes either { prefix } or { start, end }, not both');
    return { prefix: checkKey(t['prefix'], 'prefix') };
  }
  if (t['start'] === undefined) throw new TypeError('watch target must be a key, { prefix } or { start, end }');
  const start = toBytes(t['start'], 'start');
  if (start.byteLength > 0) checkKey(start, 'start');
  if (t['end'] === undefined) return { start };
  const end = checkKey(t['end'], 'end');
  if (Buffer.compare(start, end) >= 0) throw new KeelError('INVALID_ARGUMENT', 'end must sort after start');
  return { start, end };
}

/** A `fromRevision` option: an integer >= 1. */
export function checkFromRevision(input: unknown): number | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < 1) {
    throw new KeelError('INVALID_ARGUMENT', `fromRevision must be an integer >= 1, got ${describeType(input)}`);
  }
  return input;
}

function toChange(e: WatchEvent): WatchChange {
  const base = { type: e.type, revision: e.revision, kv: new KvEntry(e.kv) };
  if (e.prevKv === undefined) return base;
  return { ...base, prevKv: e.prevKv === null ? null : new KvEntry(e.prevKv) };
}

function changeBytes(c: WatchChange): number {
  return c.kv.key.byteLength + c.kv.value.byteLength + (c.prevKv ? c.prevKv.key.byteLength + c.prevKv.value.byteLength : 0) + 64;
}
