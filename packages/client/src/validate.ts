/**
 * Boundary checks for everything a caller hands to {@link KeelClient}. One place decides what is
 * acceptable: wrong types are `TypeError`s (programmer mistakes); values of the right type that
 * break a documented limit are `KeelError`s with code `INVALID_ARGUMENT` or `TOO_LARGE`, raised
 * before anything is sent. Inside the client, validated values are trusted.
 */
import { KeelError, LIMITS } from '@keel/protocol';
import type { CasExpectation, Consistency } from '@keel/protocol';
import { describeType, toBytes } from './bytes.js';

/** Bytes reserved in a request frame for everything but keys and values (ids, session, field names). */
export const REQUEST_OVERHEAD_BYTES = 1024;

/** Largest `limit` a scan accepts: the server's documented maximum. */
export const SCAN_LIMIT_MAX = LIMITS.scanLimitMax;

/** Validates and encodes a key: a non-empty string or Uint8Array of at most `LIMITS.keyBytesMax` bytes. */
export function checkKey(input: unknown, what = 'key'): Uint8Array {
  const bytes = toBytes(input, what);
  if (bytes.length === 0) throw new KeelError('INVALID_ARGUMENT', `${what} must not be empty`);
  if (bytes.length > LIMITS.keyBytesMax) {
    throw new KeelError('TOO_LARGE', `${what} is ${bytes.length} bytes; the limit is ${LIMITS.keyBytesMax}`);
  }
  return bytes;
}

/** Validates and encodes a value: a string or Uint8Array of at most `LIMITS.valueBytesMax` bytes (empty is fine). */
export function checkValue(input: unknown, what = 'value'): Uint8Array {
  const bytes = toBytes(input, what);
  if (bytes.length > LIMITS.valueBytesMax) {
    throw new KeelError('TOO_LARGE', `${what} is ${bytes.length} bytes; the limit is ${LIMITS.valueBytesMax}`);
  }
  return bytes;
}

/** Checks that the payload of one request fits in `LIMITS.requestBytesMax`. */
export function checkRequestSize(payloadBytes: number): void {
  if (payloadBytes + REQUEST_OVERHEAD_BYTES > LIMITS.requestBytesMax) {
    throw new KeelError(
      'TOO_LARGE',
      `request carries ${payloadBytes} bytes of keys and values; the limit is ${LIMITS.requestBytesMax - REQUEST_OVERHEAD_BYTES}`,
    );
  }
}

/** Validates a read consistency mode; `undefined` means linearizable. */
export function checkConsistency(input: unknown): Consistency {
  if (input === undefined) return 'linearizable';
  if (input === 'linearizable' || input === 'serializable') return input;
  throw new TypeError(`consistency must be 'linearizable' or 'serializable', got ${JSON.stringify(input) ?? describeType(input)}`);
}

/** Validates a non-negative safe integer (`min` allows a stricter lower bound). */
export function checkInteger(input: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof input !== 'number') throw new TypeError(`${what} must be a number, got ${describeType(input)}`);
  if (!Number.isSafeInteger(input) || input < min || input > max) {
    throw new KeelError('INVALID_ARGUMENT', `${what} must be an integer in [${min}, ${max}], got ${input}`);
  }
  return input;
}

/** Validates a lease id: a positive safe integer, or a `Lease` (its id). */
export function checkLeaseId(input: unknown, what = 'lease'): number {
  if (typeof input === 'object' && input !== null && 'id' in input) return checkInteger((input as { id: unknown }).id, `${what} id`, 1);
  return checkInteger(input, what, 1);
}

/** Validates a lease TTL in seconds: `LIMITS.leaseTtlSecondsMin`..`leaseTtlSecondsMax`. */
export function checkLeaseTtl(input: unknown, what = 'ttl'): number {
  return checkInteger(input, what, LIMITS.leaseTtlSecondsMin, LIMITS.leaseTtlSecondsMax);
}

/** Validates a node id: a positive safe integer. */
export function checkNodeId(input: unknown, what = 'node id'): number {
  return checkInteger(input, what, 1);
}

/** What a caller may pass as the expectation of {@link KeelClient.cas}: exactly one of the three. */
export type CasCondition =
  | { readonly expectValue: string | Uint8Array }
  | { readonly expectRevision: number }
  | { readonly expectAbsent: true };

/** Validates a CAS condition and translates it to the wire form. */
export function checkCasCondition(input: unknown): CasExpectation {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`cas condition must be an object, got ${describeType(input)}`);
  }
  const given = (['expectValue', 'expectRevision', 'expectAbsent'] as const).filter(
    (k) => (input as Record<string, unknown>)[k] !== undefined,
  );
  if (given.length !== 1) {
    throw new TypeError(
      `cas condition needs exactly one of expectValue, expectRevision, expectAbsent; got ${given.length === 0 ? 'none' : given.join(', ')}`,
    );
  }
  const c = input as Record<string, unknown>;
  if (c['expectValue'] !== undefined) return { value: checkValue(c['expectValue'], 'expectValue') };
  if (c['expectRevision'] !== undefined) return { revision: checkInteger(c['expectRevision'], 'expectRevision', 0) };
  if (c['expectAbsent'] !== true) throw new TypeError('expectAbsent must be true when given');
  return { absent: true };
}

/**
 * A key range for {@link KeelClient.scan}: every key that starts with `prefix`, or every key in
 * `[start, end)` (byte order; either bound may be omitted). An empty prefix or bound means "no
 * bound", so `{ prefix: '' }` and `{}` both scan the whole key space.
 */
export type ScanRange =
  | { readonly prefix: string | Uint8Array }
  | { readonly start?: string | Uint8Array; readonly end?: string | Uint8Array };

/** The validated wire form of a scan range (no empty byte strings). */
export interface WireScanRange {
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly prefix?: Uint8Array;
}

/** Validates a scan range. */
export function checkScanRange(input: unknown): WireScanRange {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`scan range must be an object, got ${describeType(input)}`);
  }
  const r = input as Record<string, unknown>;
  if (r['prefix'] !== undefined && (r['start'] !== undefined || r['end'] !== undefined)) {
    throw new TypeError('scan range takes either { prefix } or { start, end }, not both');
  }
  const out: { start?: Uint8Array; end?: Uint8Array; prefix?: Uint8Array } = {};
  for (const name of ['prefix', 'start', 'end'] as const) {
    if (r[name] === undefined) continue;
    const bytes = toBytes(r[name], name);
    if (bytes.length > LIMITS.keyBytesMax) {
      throw new KeelError('TOO_LARGE', `${name} is ${bytes.length} bytes; the limit is ${LIMITS.keyBytesMax}`);
    }
    if (bytes.length > 0) out[name] = bytes;
  }
  return out;
}

/**
 * The keys {@link KeelClient.deleteRange} deletes: every key that starts with `prefix` (`''`:
 * every key), or every key in `[start, end)` (byte order; no `end`: to the last key; `start: ''`:
 * from the first). Unlike a scan range, one of `prefix` or `start` must be given, so that an
 * empty object never means "everything".
 */
export type DeleteRange =
  | { readonly prefix: string | Uint8Array }
  | { readonly start: string | Uint8Array; readonly end?: string | Uint8Array };

/** Validates a delete range and translates it to the wire form (`start` may be empty, `end` may not). */
export function checkDeleteRange(input: unknown): { start: Uint8Array; end?: Uint8Array } {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`delete range must be an object, got ${describeType(input)}`);
  }
  const r = input as Record<string, unknown>;
  if (r['prefix'] !== undefined && (r['start'] !== undefined || r['end'] !== undefined)) {
    throw new TypeError('delete range takes either { prefix } or { start, end }, not both');
  }
  if (r['prefix'] === undefined && r['start'] === undefined) {
    throw new TypeError("delete range needs a prefix or a start (use { prefix: '' } to delete every key)");
  }
  const bounded = (name: string): Uint8Array => {
    const bytes = toBytes(r[name], name);
    if (bytes.length > LIMITS.keyBytesMax) throw new KeelError('TOO_LARGE', `${name} is ${bytes.length} bytes; the limit is ${LIMITS.keyBytesMax}`);
    return bytes;
  };
  if (r['prefix'] !== undefined) return prefixBounds(bounded('prefix'));
  const start = bounded('start');
  if (r['end'] === undefined) return { start };
  const end = bounded('end');
  if (end.length === 0) throw new KeelError('INVALID_ARGUMENT', 'end must not be empty (leave it out to delete to the last key)');
  return { start, end };
}

/** `[start, end)` covering exactly the keys that start with `prefix`. */
export function prefixBounds(prefix: Uint8Array): { start: Uint8Array; end?: Uint8Array } {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      // A copy, never a view: Buffer#slice (unlike Uint8Array#slice) shares memory, and the
      // increment would change the caller's prefix (and so the range's start).
      const end = new Uint8Array(prefix.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return { start: prefix, end };
    }
  }
  return { start: prefix }; // all 0xff: no upper bound
}

/** Validates a scan limit: an integer in 1..`LIMITS.scanLimitMax`. */
export function checkScanLimit(input: unknown): number {
  if (input === undefined) return DEFAULT_SCAN_LIMIT;
  return checkInteger(input, 'limit', 1, SCAN_LIMIT_MAX);
}

/** Entries a scan returns when the caller gives no limit. */
export const DEFAULT_SCAN_LIMIT = 1000;

/** Validates a "host:port" address (IPv6 hosts in brackets: "[::1]:7001"); returns it trimmed. */
export function checkAddress(input: unknown, what = 'address'): string {
  if (typeof input !== 'string') throw new TypeError(`${what} must be a "host:port" string, got ${describeType(input)}`);
  const address = input.trim();
  const parsed = parseAddress(address);
  if (parsed === undefined) {
    throw new KeelError('INVALID_ARGUMENT', `${what} must look like "host:port" with a port in 1-65535, got ${JSON.stringify(input)}`);
  }
  return address;
}

/** Splits "host:port" (or "[v6]:port"); `undefined` when malformed. */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (host === undefined || host.length === 0 || port < 1 || port > 65535) return undefined;
  return { host, port };
}
