/**
 * One open watch: delivers, in revision order and with neither gap nor duplicate, every change to
 * its key range from its start revision on, as `WatchEventsFrame`s tagged with the watch's
 * request id.
 *
 * `next` is the first revision not yet taken into the queue. A watcher is either
 *  - catching up: it reads the history from the store (`readHistory`, one bounded stretch at a
 *    time, and only while its connection has room), ignoring what the hub offers; or
 *  - live: it has taken everything up to the store's applied index, and takes each applied batch
 *    the hub offers (the store tells the hub synchronously after the batch is written, so nothing
 *    can slip between the last read and the first offer).
 * It turns live when a read reaches the applied index; a snapshot swapped in (the history jumped)
 * turns it back to catching up.
 *
 * Memory: events wait in the queue only while the connection holds `WATCH_SINK_BYTES` of unsent
 * output. Catching up reads nothing more then, so only live offers can grow the queue; past
 * `LIMITS.watchQueueBytesMax` the watch ends with WATCH_OVERFLOW (the client resumes from the
 * last revision it was sent, catching up from history at its own pace).
 */
import { LIMITS, type KeelError, type WatchEvent, type WatchEventsFrame } from '@keel/protocol';
import type { HistoryEvent } from '../state-machine/history.js';
import { StoreError } from '../storage/errors.js';
import type { HistoryRead } from '../storage/state-store.js';
import { asKeelError } from '../transport/errors.js';
import { compactedError, overflowError } from './watch-errors.js';
import { inRange, type KeyRange } from './watch-range.js';

/** Unsent output a connection may hold before its watchers stop handing it frames (they queue, then wait). */
export const WATCH_SINK_BYTES = 1024 * 1024;
/** Bytes of history one catch-up step reads (whole revisions: one large revision may pass it). */
const CATCH_UP_READ_BYTES = 1024 * 1024;
/** Bytes of events packed into one frame (whole revisions: one large revision may pass it). */
const FRAME_EVENT_BYTES = 1024 * 1024;
/** Allowance per event for its revisions and encoding. */
const EVENT_OVERHEAD_BYTES = 64;

/** What a watcher reads: the state store. */
export interface WatchSource {
  appliedIndex(): number;
  compactRevision(): number;
  readHistory(from: number, through: number, maxBytes: number): Promise<HistoryRead>;
}

/** Where a watcher's frames go: its client connection. */
export interface WatchSink {
  send(frame: WatchEventsFrame): void;
  /** True while the connection holds less than `WATCH_SINK_BYTES` of unsent output (or is closed). */
  hasRoom(): boolean;
  /** Resolves once `hasRoom()` (at once when it does). */
  room(): Promise<void>;
}

export interface WatchOptions {
  readonly id: number;
  readonly range: KeyRange;
  /** First revision to deliver. */
  readonly from: number;
  readonly prevKv: boolean;
}

export class Watcher {
  private next: number;
  private live = false;
  private readonly queue: WatchEvent[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  /** Every change up to this revision has been sent (or there was none). */
  private sentThrough: number;
  private waitingForRoom = false;
  private ended = false;
  private resolveDone!: (result: { revision: number }) => void;
  private rejectDone!: (error: KeelError) => void;
  /** Settles when the watch ends: with the last revision sent, or with the error that ended it. */
  readonly done: Promise<{ revision: number }>;

  constructor(
    readonly options: WatchOptions,
    private readonly source: WatchSource,
    private readonly sink: WatchSink,
    private readonly onEnd: (watcher: Watcher) => void,
  ) {
    this.next = options.from;
    this.sentThrough = options.from - 1;
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  get id(): number {
    return this.options.id;
  }

  /** Announce the watch (a frame without events) and start catching up; a compacted start ends it at once. */
  start(): void {
    const compacted = this.source.compactRevision();
    if (this.next < compacted) {
      this.end(compactedError(this.next, compacted));
      return;
    }
    this.sink.send({ id: this.id, watch: { events: [], revision: this.sentThrough } });
    void this.catchUp();
  }

  /** An applied batch (its events in revision order) that brought the store to `applied`. */
  offer(events: readonly HistoryEvent[], applied: number): void {
    if (!this.live || this.ended) return;
    for (const e of events) if (e.revision >= this.next && inRange(this.options.range, e.kv.key)) this.enqueue(e);
    this.next = Math.max(this.next, applied + 1);
    if (this.queuedBytes > LIMITS.watchQueueBytesMax) {
      this.end(overflowError(this.sentThrough));
      return;
    }
    this.flush();
  }

  /** A snapshot replaced the store's state up to `applied`: read what it brought from history. */
  replaced(applied: number): void {
    if (!this.live || this.ended || this.next > applied) return;
    this.live = false;
    void this.catchUp();
  }

  /** End the watch: ok (with the last revision sent) without `error`. Idempotent. */
  end(error?: KeelError): void {
    if (this.ended) return;
    this.ended = true;
    this.live = false;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.onEnd(this);
    if (error === undefined) this.resolveDone({ revision: this.sentThrough });
    else this.rejectDone(error);
  }

  private async catchUp(): Promise<void> {
    try {
      while (!this.ended) {
        while (this.queueHead < this.queue.length || !this.sink.hasRoom()) {
          this.flush();
          await this.sink.room();
          if (this.ended) return;
        }
        const applied = this.source.appliedIndex();
        if (this.next > applied) {
          this.live = true; // from here on the hub's offers carry every later change
          return;
        }
        const read = await this.source.readHistory(this.next, applied, CATCH_UP_READ_BYTES);
        if (this.ended || this.live) return;
        for (const e of read.events) if (inRange(this.options.range, e.kv.key)) this.enqueue(e);
        this.next = read.through + 1;
        this.flush(true);
      }
    } catch (error) {
      if (error instanceof StoreError && error.code === 'COMPACTED') this.end(compactedError(this.next, this.source.compactRevision()));
      else this.end(asKeelError(error, 'watch'));
    }
  }

  private enqueue(e: HistoryEvent): void {
    const event: WatchEvent = this.options.prevKv ? { type: e.type, revision: e.revision, kv: e.kv, prevKv: e.prevKv } : { type: e.type, revision: e.revision, kv: e.kv };
    this.queue.push(event);
    this.queuedBytes += eventBytes(event);
  }

  /**
   * Send queued events while the connection has room, whole revisions per frame. With
   * `progress`, also a frame without events when the queue is empty and the watch has covered
   * revisions it has not reported yet (a catch-up read found nothing to send).
   */
  private flush(progress = false): void {
    if (this.ended) return;
    while (this.queueHead < this.queue.length && this.sink.hasRoom()) {
      const events: WatchEvent[] = [];
      let bytes = 0;
      while (this.queueHead < this.queue.length) {
        const e = this.queue[this.queueHead]!;
        if (bytes >= FRAME_EVENT_BYTES && e.revision !== events[events.length - 1]!.revision) break;
        events.push(e);
        bytes += eventBytes(e);
        this.queueHead++;
      }
      this.queuedBytes -= bytes;
      const drained = this.queueHead === this.queue.length;
      if (drained) {
        this.queue.length = 0;
        this.queueHead = 0;
      }
      this.sentThrough = drained ? this.next - 1 : events[events.length - 1]!.revision;
      this.sink.send({ id: this.id, watch: { events, revision: this.sentThrough } });
    }
    if (this.queueHead < this.queue.length) {
      if (!this.waitingForRoom) {
        this.waitingForRoom = true;
        void this.sink.room().then(() => {
          this.waitingForRoom = false;
          this.flush();
        });
      }
    } else if (progress && this.next - 1 > this.sentThrough && this.sink.hasRoom()) {
      this.sentThrough = this.next - 1;
      this.sink.send({ id: this.id, watch: { events: [], revision: this.sentThrough } });
    }
  }
}

function eventBytes(e: WatchEvent): number {
  const prev = e.prevKv === undefined || e.prevKv === null ? 0 : e.prevKv.key.byteLength + e.prevKv.value.byteLength;
  return e.kv.key.byteLength + e.kv.value.byteLength + prev + EVENT_OVERHEAD_BYTES;
}
