/**
 * A msgpack decoder for plain values, the counterpart of PlainPacker: maps with ASCII string
 * keys (as objects), arrays, ASCII strings, integers up to 32 bits, float64, booleans, nil and
 * byte strings (as views into the source buffer, like msgpackr's). Anything else — other strings,
 * 64-bit integers, float32, extensions, malformed or trailing bytes — is left to msgpackr: the
 * whole frame is decoded by it instead, so every value, and every error, is exactly msgpackr's.
 *
 * Why: a client decodes one response per request; msgpackr's general decoder (for frames over 180
 * bytes it also extracts the frame's strings natively and allocates each key) was about a sixth
 * of the client's CPU on linearizable gets (see the commit).
 */
import { Unpackr } from 'msgpackr';

/** Thrown inside the decoder for anything it leaves to msgpackr; never escapes {@link unpackPlain}. */
const UNSUPPORTED = Symbol('unsupported');

/** Map keys up to this many bytes are interned (the same few keys arrive in every response). */
const INTERNED_KEY_BYTES_MAX = 16;
const KEY_CACHE_SLOTS = 1024;

/**
 * Decodes the msgpack value in `buf[start, end)` with `fallback` (msgpackr, with the caller's
 * settings: `useRecords: false`) deciding everything outside the plain subset.
 */
export function unpackPlain(buf: Buffer, start: number, end: number, fallback: Unpackr): unknown {
  reader.src = buf;
  reader.pos = start;
  reader.end = end;
  try {
    const value = reader.read();
    if (reader.pos === end) return value;
  } catch (error) {
    if (error !== UNSUPPORTED && !(error instanceof RangeError)) throw error;
  } finally {
    reader.src = EMPTY;
  }
  return fallback.unpack(buf, { start, end });
}

const EMPTY = Buffer.alloc(0);

class PlainReader {
  src: Buffer = EMPTY;
  pos = 0;
  end = 0;
  /** Interned keys by a hash of their bytes: [bytes, string] pairs. */
  private readonly keys: ({ readonly bytes: Buffer; readonly text: string } | undefined)[] = new Array(KEY_CACHE_SLOTS);

  read(): unknown {
    const b = this.byte();
    if (b < 0x80) return b;
    if (b < 0x90) return this.readMap(b & 0x0f);
    if (b < 0xa0) return this.readArray(b & 0x0f);
    if (b < 0xc0) return this.readAscii(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.readBytes(this.byte());
      case 0xc5:
        return this.readBytes(this.uint(2));
      case 0xc6:
        return this.readBytes(this.uint(4));
      case 0xcb:
        this.need(8);
        this.pos += 8;
        return this.src.readDoubleBE(this.pos - 8);
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.uint(2);
      case 0xce:
        return this.uint(4);
      case 0xd0:
        this.need(1);
        return this.src.readInt8(this.pos++);
      case 0xd1:
        this.need(2);
        this.pos += 2;
        return this.src.readInt16BE(this.pos - 2);
      case 0xd2:
        this.need(4);
        this.pos += 4;
        return this.src.readInt32BE(this.pos - 4);
      case 0xd9:
        return this.readAscii(this.byte());
      case 0xda:
        return this.readAscii(this.uint(2));
      case 0xdb:
        return this.readAscii(this.uint(4));
      case 0xdc:
        return this.readArray(this.uint(2));
      case 0xdd:
        return this.readArray(this.uint(4));
      case 0xde:
        return this.readMap(this.uint(2));
      case 0xdf:
        return this.readMap(this.uint(4));
      default:
        throw UNSUPPORTED;
    }
  }

  private readMap(n: number): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.readKey();
      object[key === '__proto__' ? '__proto_' : key] = this.read(); // msgpackr renames it, too
    }
    return object;
  }

  private readArray(n: number): unknown[] {
    if (n > this.end - this.pos) throw UNSUPPORTED; // each element takes a byte at least
    const array = new Array<unknown>(n);
    for (let i = 0; i < n; i++) array[i] = this.read();
    return array;
  }

  /** A map key: a string, interned when short (see {@link INTERNED_KEY_BYTES_MAX}). */
  private readKey(): string {
    const b = this.byte();
    if (b < 0xa0 || b >= 0xc0) {
      this.pos--;
      const key = this.read();
      if (typeof key !== 'string') throw UNSUPPORTED; // msgpackr turns other keys into strings
      return key;
    }
    const n = b & 0x1f;
    if (n > INTERNED_KEY_BYTES_MAX) return this.readAscii(n);
    this.need(n);
    const src = this.src;
    const at = this.pos;
    let hash = n;
    for (let i = at; i < at + n; i++) hash = (hash * 31 + src[i]!) | 0;
    const slot = hash & (KEY_CACHE_SLOTS - 1);
    const cached = this.keys[slot];
    if (cached !== undefined && sameBytes(cached.bytes, src, at, n)) {
      this.pos += n;
      return cached.text;
    }
    const text = this.readAscii(n);
    this.keys[slot] = { bytes: Buffer.from(src.subarray(at, at + n)), text };
    return text;
  }

  /** An ASCII string of `n` bytes; any other byte leaves the frame to msgpackr. */
  private readAscii(n: number): string {
    this.need(n);
    const src = this.src;
    const end = this.pos + n;
    for (let i = this.pos; i < end; i++) if (src[i]! >= 0x80) throw UNSUPPORTED;
    const text = src.toString('latin1', this.pos, end);
    this.pos = end;
    return text;
  }

  private readBytes(n: number): Buffer {
    this.need(n);
    this.pos += n;
    return this.src.subarray(this.pos - n, this.pos);
  }

  private byte(): number {
    this.need(1);
    return this.src[this.pos++]!;
  }

  /** A big-endian unsigned integer of `bytes` (2 or 4) bytes. */
  private uint(bytes: 2 | 4): number {
    this.need(bytes);
    this.pos += bytes;
    return bytes === 2 ? this.src.readUInt16BE(this.pos - 2) : this.src.readUInt32BE(this.pos - 4);
  }

  /** Truncated input is msgpackr's to report. */
  private need(bytes: number): void {
    if (this.pos + bytes > this.end) throw UNSUPPORTED;
  }
}

/** Whether `bytes` equals `src[at, at + n)` (a loop: a subarray to compare with would be garbage). */
function sameBytes(bytes: Buffer, src: Buffer, at: number, n: number): boolean {
  if (bytes.length !== n) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== src[at + i]) return false;
  return true;
}

/** One reader for the process: decoding is synchronous, one frame at a time. */
const reader = new PlainReader();
