/**
 * Snapshot streaming over a dedicated peer connection (channel 'snapshot'), stop-and-wait:
 *
 *   sender                                   receiver
 *   hello{channel:'snapshot'}      ──►
 *                                  ◄──       helloResult
 *   snapBegin{meta}                ──►       onSnapshot(from, meta, chunks) starts
 *   snapChunk{seq:0,data}          ──►       chunks yields data; once consumed:
 *                                  ◄──       snapAck{seq:0}
 *   …one chunk at a time…
 *   snapEnd{chunks:n}              ──►       chunks ends; onSnapshot settles:
 *                                  ◄──       snapDone{ok} | snapDone{ok:false,error}
 *
 * Every wait of the sender (handshake, each ack, the final result) has its own timeout of
 * `chunkTimeoutMs`: timeouts are per chunk, not per snapshot. The receiver holds at most one
 * unconsumed chunk, and fails its stream when the sender goes quiet for twice that long.
 */
import type { SnapshotMeta } from '@keel/raft';
import type { WireError } from '@keel/protocol';
import { ERROR_CODES, KeelError } from '@keel/protocol';
import { malformedFrameError, snapshotEndedEarlyError, waitTimeoutError } from './errors.js';
import type { FrameChannel } from './frame-channel.js';
import { validateSnapshotMeta } from './message-codec.js';

export type SnapshotFrame =
  | { readonly type: 'snapBegin'; readonly meta: SnapshotMeta }
  | { readonly type: 'snapChunk'; readonly seq: number; readonly data: Uint8Array }
  | { readonly type: 'snapEnd'; readonly chunks: number };

export type SnapshotReply =
  | { readonly type: 'snapAck'; readonly seq: number }
  | { readonly type: 'snapDone'; readonly ok: true }
  | { readonly type: 'snapDone'; readonly ok: false; readonly error: WireError };

type Fields = Record<string, unknown>;

function malformed(what: string): never {
  throw malformedFrameError(`invalid snapshot frame: ${what}`);
}

function fields(value: unknown): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed('not a map');
  return value as Fields;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Checks a frame the receiver got. Throws `KeelError('MALFORMED_FRAME')`. */
export function validateSnapshotFrame(value: unknown): SnapshotFrame {
  const f = fields(value);
  switch (f['type']) {
    case 'snapBegin':
      return { type: 'snapBegin', meta: validateSnapshotMeta(f['meta']) };
    case 'snapChunk':
      if (!isSeq(f['seq'])) malformed(`'seq' must be a non-negative integer`);
      if (!(f['data'] instanceof Uint8Array)) malformed(`'data' must be a byte string`);
      return { type: 'snapChunk', seq: f['seq'], data: f['data'] };
    case 'snapEnd':
      if (!isSeq(f['chunks'])) malformed(`'chunks' must be a non-negative integer`);
      return { type: 'snapEnd', chunks: f['chunks'] };
    default:
      return malformed(`unknown type`);
  }
}

/** Checks a frame the sender got. Throws `KeelError('MALFORMED_FRAME')`. */
export function validateSnapshotReply(value: unknown): SnapshotReply {
  const f = fields(value);
  if (f['type'] === 'snapAck') {
    if (!isSeq(f['seq'])) malformed(`'seq' must be a non-negative integer`);
    return { type: 'snapAck', seq: f['seq'] };
  }
  if (f['type'] !== 'snapDone') malformed('unknown type');
  if (f['ok'] === true) return { type: 'snapDone', ok: true };
  const error = fields(f['error']);
  const code = error['code'];
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code) || typeof error['message'] !== 'string') {
    malformed(`'error' must be a wire error`);
  }
  return { type: 'snapDone', ok: false, error: { code: code as WireError['code'], message: error['message'], definite: error['definite'] !== false } };
}

/**
 * Sender side, after the handshake: streams `chunks` one at a time, each acknowledged within
 * `chunkTimeoutMs`, then waits (same timeout) for the receiver's install result. Rejects with a
 * `KeelError` on any failure; the caller closes the channel.
 */
export async function streamSnapshot(
  channel: FrameChannel,
  meta: SnapshotMeta,
  chunks: AsyncIterable<Uint8Array>,
  chunkTimeoutMs: number,
): Promise<number> {
  channel.send({ type: 'snapBegin', meta } satisfies SnapshotFrame);
  let seq = 0;
  for await (const data of chunks) {
    channel.send({ type: 'snapChunk', seq, data } satisfies SnapshotFrame);
    const reply = validateSnapshotReply(await channel.next(chunkTimeoutMs, `acknowledgement of snapshot chunk ${seq}`));
    if (reply.type === 'snapDone') {
      throw reply.ok ? snapshotEndedEarlyError(seq) : KeelError.fromWire(reply.error);
    }
    if (reply.seq !== seq) malformed(`acknowledgement of chunk ${reply.seq} while waiting for ${seq}`);
    seq++;
  }
  channel.send({ type: 'snapEnd', chunks: seq } satisfies SnapshotFrame);
  const done = validateSnapshotReply(await channel.next(chunkTimeoutMs, 'snapshot install result'));
  if (done.type !== 'snapDone') malformed(`an acknowledgement after the last chunk`);
  if (!done.ok) throw KeelError.fromWire(done.error);
  return seq;
}

/**
 * Receiver side: the `AsyncIterable` handed to `onSnapshot`. Holds at most one chunk; a chunk is
 * acknowledged (`onConsumed(seq)`) when the consumer asks for the next one, i.e. after it has
 * handled it. Iterate it once.
 */
export class ChunkStream implements AsyncIterable<Uint8Array> {
  private readonly buffered: Uint8Array[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: { resolve: (chunk: Uint8Array | null) => void; reject: (e: Error) => void } | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private received = 0;
  private iterated = false;

  constructor(
    private readonly onConsumed: (seq: number) => void,
    private readonly idleTimeoutMs: number,
  ) {}

  /** Chunks received so far. */
  get count(): number {
    return this.received;
  }

  /** A chunk arrived. Throws `KeelError('MALFORMED_FRAME')` if the sender did not wait for the last ack. */
  push(seq: number, data: Uint8Array): void {
    if (this.ended || this.failure !== null) malformed('chunk after the end of the stream');
    if (seq !== this.received) malformed(`chunk ${seq} where chunk ${this.received} was expected`);
    if (this.buffered.length > 0) malformed(`chunk ${seq} sent before chunk ${seq - 1} was acknowledged`);
    this.received++;
    this.hand(data);
  }

  /** The sender finished after `chunks` chunks. */
  end(chunks: number): void {
    if (chunks !== this.received) malformed(`end after ${chunks} chunks, but ${this.received} arrived`);
    this.ended = true;
    this.hand(null);
  }

  /** The stream broke (connection lost, bad frame, shutdown): the consumer's next read rejects. */
  fail(error: Error): void {
    if (this.ended || this.failure !== null) return;
    this.failure = error;
    this.buffered.length = 0; // the install is lost anyway: fail at the consumer's next read
    this.clearIdle();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new TypeError('a snapshot chunk stream can be iterated only once');
    this.iterated = true;
    for (let seq = 0; ; seq++) {
      const chunk = await this.take();
      if (chunk === null) return;
      yield chunk;
      if (this.failure === null) this.onConsumed(seq);
    }
  }

  private hand(chunk: Uint8Array | null): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      this.clearIdle();
      waiter.resolve(chunk);
    } else if (chunk !== null) {
      this.buffered.push(chunk);
    }
  }

  private take(): Promise<Uint8Array | null> {
    const chunk = this.buffered.shift();
    if (chunk !== undefined) return Promise.resolve(chunk);
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.idleTimer = setTimeout(() => {
        this.fail(waitTimeoutError(`no snapshot chunk from the sender within ${this.idleTimeoutMs} ms`));
      }, this.idleTimeoutMs);
    });
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
