/**
 * Keys and values: the caller passes strings (encoded as UTF-8) or bytes; the wire carries bytes.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** A key or value as the caller may pass it: a string (sent as UTF-8) or raw bytes. */
export type BytesInput = string | Uint8Array;

/** Encodes `input` as bytes; throws `TypeError` naming `what` when it is neither a string nor a Uint8Array. */
export function toBytes(input: unknown, what: string): Uint8Array {
  if (typeof input === 'string') return encoder.encode(input);
  if (input instanceof Uint8Array) return input;
  throw new TypeError(`${what} must be a string or a Uint8Array, got ${describeType(input)}`);
}

/** Decodes UTF-8, replacing invalid sequences with U+FFFD (never throws). */
export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Decodes UTF-8, or returns `undefined` when the bytes are not valid UTF-8. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A short name for the type of `value`, for error messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return typeof value;
}
