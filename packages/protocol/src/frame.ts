/**
 * Framing: every frame on a Keel connection (client or peer) is a 4-byte big-endian length
 * followed by exactly that many bytes holding exactly one msgpack value, as msgpackr's `pack()`
 * writes it (the client's requests are written by PlainPacker, and its responses read by
 * `unpackPlain`: the same values, for less CPU; see plain-packer.ts and plain-unpacker.ts).
 *
 * No record/structure state ever crosses a frame (STYLE item 12): the codec runs with
 * `useRecords: false` and no shared structures, so each frame decodes on its own and a garbage
 * frame cannot poison the frames after it. `FrameDecoder` accepts bytes in arbitrary chunks and
 * reports garbage as `KeelError('MALFORMED_FRAME')` and oversized frames as
 * `KeelError('TOO_LARGE')`; it never throws anything else.
 */
import { Packr, Unpackr } from 'msgpackr';
import { LIMITS } from './client-api.js';
import { KeelError, frameTooLargeError } from './errors.js';
import { PlainPacker } from './plain-packer.js';
import { unpackPlain } from './plain-unpacker.js';

/** The packer of batches with `plainValues` (synchronous, so one serves every batch). */
const plainPacker = new PlainPacker();

/** Bytes of the length prefix in front of every frame. */
export const FRAME_HEADER_BYTES = 4;

/** Largest length the 4-byte prefix can express. */
const FRAME_LENGTH_LIMIT = 0xffff_ffff;

const packr = new Packr({ useRecords: false });
/** Decoded byte strings are views into the buffer decoded (no copy per byte string). */
const unpackr = new Unpackr({ useRecords: false });

/**
 * Packs one value with the frame codec, without the length prefix. Throws `KeelError('TOO_LARGE')`
 * when the packed value exceeds `maxFrameBytes`, and `TypeError` when it cannot be packed.
 */
export function packPayload(value: unknown, maxFrameBytes: number = LIMITS.frameBytesMax): Buffer {
  let payload: Buffer;
  try {
    payload = packr.pack(value);
  } catch (error) {
    throw new TypeError(`value cannot be encoded as a frame: ${(error as Error).message}`);
  }
  if (payload.length > maxFrameBytes) {
    throw frameTooLargeError(payload.length, maxFrameBytes);
  }
  return payload;
}

/** Encodes one value as one frame (length prefix + payload). See `packPayload` for errors. */
export function encodeFrame(value: unknown, maxFrameBytes: number = LIMITS.frameBytesMax): Buffer {
  const payload = packPayload(value, maxFrameBytes);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Encodes several values as consecutive frames in ONE buffer, for a single socket write. */
export function encodeFrames(values: readonly unknown[], maxFrameBytes: number = LIMITS.frameBytesMax): Buffer {
  const batch = new FrameBatch(maxFrameBytes);
  for (const value of values) batch.add(value);
  return batch.take();
}

/**
 * Collects frames to send in one socket write. `add()` packs at once (so an encoding error is
 * reported to the caller that produced the value); `take()` joins everything added since the
 * last `take()` into one buffer.
 */
export class FrameBatch {
  private payloads: Buffer[] = [];
  private bytes = 0;

  /**
   * `plainValues`: pack with PlainPacker first (plain-packer.ts: the same bytes' worth of value as
   * msgpackr's, for less CPU; msgpackr packs anything outside its subset). The server's answers
   * to clients are plain values.
   */
  constructor(
    readonly maxFrameBytes: number = LIMITS.frameBytesMax,
    private readonly options: { readonly plainValues?: boolean } = {},
  ) {}

  /** Frames waiting for `take()`. */
  get count(): number {
    return this.payloads.length;
  }

  /** Bytes `take()` will return (length prefixes included). */
  get byteLength(): number {
    return this.bytes;
  }

  /** Packs `value` as the next frame; returns the frame's size in bytes, prefix included. */
  add(value: unknown): number {
    const plain = this.options.plainValues === true ? plainPacker.pack(value, this.maxFrameBytes) : undefined;
    return this.addPayload(plain ?? packPayload(value, this.maxFrameBytes));
  }

  /** Adds an already packed payload (from `packPayload`). */
  addPayload(payload: Buffer): number {
    if (payload.length > this.maxFrameBytes) {
      throw frameTooLargeError(payload.length, this.maxFrameBytes);
    }
    this.payloads.push(payload);
    const size = FRAME_HEADER_BYTES + payload.length;
    this.bytes += size;
    return size;
  }

  /** All frames added since the last call, in order, as one buffer; empties the batch. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.bytes);
    let offset = 0;
    for (const payload of this.payloads) {
      out.writeUInt32BE(payload.length, offset);
      offset += FRAME_HEADER_BYTES;
      offset += payload.copy(out, offset);
    }
    this.payloads = [];
    this.bytes = 0;
    return out;
  }
}

export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes (length prefix excluded). Default `LIMITS.frameBytesMax`. */
  readonly maxFrameBytes?: number;
  /**
   * When true, each frame's payload is copied once into its own buffer before decoding, so byte
   * strings in decoded values are views into that private copy: they never alias the pushed
   * chunks and keep at most their own frame alive (use this for values that are kept, like Raft
   * entries). When false (the default), frames that lie whole inside a pushed chunk are decoded
   * in place: byte strings are views into the chunk, so the caller must not mutate a chunk after
   * pushing it, and should copy byte strings it keeps for long.
   */
  readonly copyBuffers?: boolean;
  /**
   * When true, frames are decoded by `unpackPlain` (plain-unpacker.ts): the same values and errors
   * as msgpackr's, with less CPU and garbage for plain data (the client's responses).
   */
  readonly plainValues?: boolean;
}

/** Called once per decoded frame with the value and the payload size in bytes. */
export type FrameHandler = (value: unknown, payloadBytes: number) => void;

/**
 * Incremental decoder: push bytes as they arrive, in chunks split anywhere; each complete frame
 * is decoded and handed to `onFrame` in order.
 *
 * Invariant: `header` holds `headerFilled` bytes of the next length prefix; while `body` is set,
 * the prefix was complete and `bodyFilled < body.length` bytes of that frame's payload arrived.
 * After an error the decoder is failed: every later `push` throws the same error.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private readonly copyBuffers: boolean;
  private readonly plainValues: boolean;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private failure: KeelError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? LIMITS.frameBytesMax;
    if (!Number.isSafeInteger(max) || max < 1 || max > FRAME_LENGTH_LIMIT) {
      throw new TypeError(`maxFrameBytes must be an integer in [1, ${FRAME_LENGTH_LIMIT}], got ${max}`);
    }
    this.maxFrameBytes = max;
    this.copyBuffers = options.copyBuffers === true;
    this.plainValues = options.plainValues === true;
  }

  /** The error that failed this decoder, if any. */
  get error(): KeelError | null {
    return this.failure;
  }

  /** Bytes received that belong to a frame not yet complete. */
  get pendingBytes(): number {
    return this.headerFilled + this.bodyFilled;
  }

  /**
   * Consumes `chunk`, calling `onFrame` for each frame it completes. Throws
   * `KeelError('MALFORMED_FRAME')` or `KeelError('TOO_LARGE')` at the first bad frame (frames
   * before it were delivered). Exceptions thrown by `onFrame` propagate unchanged and leave the
   * decoder positioned after that frame.
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): void {
    if (this.failure !== null) throw this.failure;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      if (this.body === null && this.headerFilled === 0) {
        // Fast path: whole frames inside this chunk are decoded in place, without copying.
        if (end - pos < FRAME_HEADER_BYTES) {
          pos += this.fillHeader(buf, pos, end);
          continue;
        }
        const length = buf.readUInt32BE(pos);
        this.checkLength(length);
        const start = pos + FRAME_HEADER_BYTES;
        if (end - start >= length) {
          pos = start + length;
          if (this.copyBuffers) {
            const own = Buffer.allocUnsafe(length);
            buf.copy(own, 0, start, pos);
            onFrame(this.decode(own, 0, length), length);
          } else {
            onFrame(this.decode(buf, start, pos), length);
          }
          continue;
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = buf.copy(this.body, 0, start, end);
        pos = end;
        continue;
      }
      if (this.body === null) {
        pos += this.fillHeader(buf, pos, end);
        continue;
      }
      const copied = buf.copy(this.body, this.bodyFilled, pos, Math.min(end, pos + this.body.length - this.bodyFilled));
      this.bodyFilled += copied;
      pos += copied;
      if (this.bodyFilled === this.body.length) {
        const body = this.body;
        this.body = null;
        this.bodyFilled = 0;
        onFrame(this.decode(body, 0, body.length), body.length);
      }
    }
  }

  /** Copies header bytes; when the prefix completes, starts the body (or decodes an empty one). */
  private fillHeader(buf: Buffer, pos: number, end: number): number {
    const copied = buf.copy(this.header, this.headerFilled, pos, Math.min(end, pos + FRAME_HEADER_BYTES - this.headerFilled));
    this.headerFilled += copied;
    if (this.headerFilled === FRAME_HEADER_BYTES) {
      const length = this.header.readUInt32BE(0);
      this.headerFilled = 0;
      this.checkLength(length);
      this.body = Buffer.allocUnsafe(length);
      this.bodyFilled = 0;
    }
    return copied;
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameBytes) {
      this.fail(frameTooLargeError(length, this.maxFrameBytes));
    }
    if (length === 0) this.fail(new KeelError('MALFORMED_FRAME', 'empty frame: a frame holds exactly one value'));
  }

  private decode(buf: Buffer, start: number, end: number): unknown {
    try {
      return this.plainValues ? unpackPlain(buf, start, end, unpackr) : unpackr.unpack(buf, { start, end });
    } catch (error) {
      return this.fail(
        new KeelError('MALFORMED_FRAME', `frame of ${end - start} bytes is not one msgpack value: ${error instanceof Error ? error.message : 'undecodable'}`, {
          cause: error,
        }),
      );
    }
  }

  private fail(error: KeelError): never {
    this.failure = error;
    this.body = null;
    this.bodyFilled = 0;
    this.headerFilled = 0;
    throw error;
  }
}
