/**
 * The key ranges of role permissions, as callers give them: one key, a prefix, or `[start, end)`,
 * turned into the `[start, end)` the server stores (end null: to the last key), and back.
 */
import type { Permission, PermissionMode } from '@keel/protocol';
import { KeelError } from '@keel/protocol';
import { bytesEqual, describeType, toBytes, type BytesInput } from './bytes.js';
import { prefixBounds } from './validate.js';

/** Which keys a permission covers: `{ key }`, `{ prefix }` (`''`: every key), or `{ start, end }` (no end: to the last key). */
export type PermissionRange =
  | { readonly key: BytesInput }
  | { readonly prefix: BytesInput }
  | { readonly start: BytesInput; readonly end?: BytesInput };

export const PERMISSION_MODES: readonly PermissionMode[] = ['read', 'write', 'readwrite'];

/** `[start, end)` of `range` (end null: to the last key). Throws TypeError / INVALID_ARGUMENT. */
export function permissionInterval(range: PermissionRange): { start: Uint8Array; end: Uint8Array | null } {
  if (typeof range !== 'object' || range === null) throw new TypeError(`a permission range must be { key } or { prefix } or { start, end }, got ${describeType(range)}`);
  if ('key' in range) {
    const key = toBytes(range.key, 'key');
    if (key.length === 0) throw new KeelError('INVALID_ARGUMENT', 'key must not be empty (use { prefix: "" } for every key)');
    const end = new Uint8Array(key.length + 1);
    end.set(key);
    return { start: key, end };
  }
  if ('prefix' in range) {
    const { start, end } = prefixBounds(toBytes(range.prefix, 'prefix'));
    return { start, end: end ?? null };
  }
  const start = toBytes(range.start, 'start');
  const end = range.end === undefined ? null : toBytes(range.end, 'end');
  if (end !== null && Buffer.compare(start, end) >= 0) throw new KeelError('INVALID_ARGUMENT', 'end must be after start');
  return { start, end };
}

/** How a stored permission reads: one key, a prefix, or a range. */
export function describePermissionRange(p: Pick<Permission, 'start' | 'end'>): PermissionRange {
  if (p.end === null) return p.start.length === 0 ? { prefix: p.start } : { start: p.start };
  if (p.end.length === p.start.length + 1 && p.end[p.start.length] === 0 && bytesEqual(p.end.subarray(0, p.start.length), p.start)) return { key: p.start };
  const asPrefix = prefixBounds(p.start).end;
  if (p.start.length > 0 && asPrefix !== undefined && bytesEqual(asPrefix, p.end)) return { prefix: p.start };
  return { start: p.start, end: p.end };
}
