/**
 * The rules every field of a logged command follows (the client API's limits), shared by the
 * command and txn codecs: each returns why a field breaks them, or undefined when it is fine.
 */
import { LIMITS } from '@keel/protocol';

/** A key: 1..LIMITS.keyBytesMax bytes. */
export function keyProblem(key: unknown): string | undefined {
  if (!(key instanceof Uint8Array)) return 'key must be bytes';
  if (key.byteLength === 0) return 'key must not be empty';
  if (key.byteLength > LIMITS.keyBytesMax) return `key exceeds ${LIMITS.keyBytesMax} bytes`;
  return undefined;
}

/** A value: at most LIMITS.valueBytesMax bytes. */
export function valueProblem(value: unknown): string | undefined {
  if (!(value instanceof Uint8Array)) return 'value must be bytes';
  if (value.byteLength > LIMITS.valueBytesMax) return `value exceeds ${LIMITS.valueBytesMax} bytes`;
  return undefined;
}

/** A range: start 0..LIMITS.keyBytesMax bytes, end (when present) 1..LIMITS.keyBytesMax bytes. */
export function rangeProblem(start: unknown, end: unknown): string | undefined {
  if (!(start instanceof Uint8Array) || start.byteLength > LIMITS.keyBytesMax) return `range start must be at most ${LIMITS.keyBytesMax} bytes`;
  if (end !== undefined && (!(end instanceof Uint8Array) || end.byteLength === 0 || end.byteLength > LIMITS.keyBytesMax)) {
    return `range end must be 1..${LIMITS.keyBytesMax} bytes`;
  }
  return undefined;
}

export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** A lease id: a positive safe integer (the log index of its grant). */
export function leaseIdProblem(id: unknown): string | undefined {
  return isCount(id) && id >= 1 ? undefined : 'lease id must be a positive integer';
}
