/**
 * The keys a watch covers, as one byte range `[start, end)` (no end: to the last key), from the
 * request's `key`, `prefix` or `start`/`end` (validated at the boundary: exactly one is given).
 */
import type { ClientRequest } from '@keel/protocol';
import { keySuccessor, prefixUpperBound } from '../state-machine/key-bounds.js';

export interface KeyRange {
  readonly start: Uint8Array;
  readonly end: Uint8Array | undefined;
}

export function watchRange(request: Extract<ClientRequest, { op: 'watch' }>): KeyRange {
  if (request.key !== undefined) return { start: request.key, end: keySuccessor(request.key) };
  if (request.prefix !== undefined) return { start: request.prefix, end: prefixUpperBound(request.prefix) };
  return { start: request.start ?? new Uint8Array(0), end: request.end };
}

export function inRange(range: KeyRange, key: Uint8Array): boolean {
  return Buffer.compare(key, range.start) >= 0 && (range.end === undefined || Buffer.compare(key, range.end) < 0);
}
