/**
 * How kvctl prints things: aligned tables for people, JSON for programs. Pure functions.
 */
import type { KeelError, Member } from '@keel/protocol';
import { utf8, utf8OrUndefined } from '../bytes.js';
import type { KvEntry } from '../entry.js';
import type { EndpointStatus } from '../results.js';

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** The `kvctl status` table: one row per endpoint, unreachable ones included. */
export function formatStatusTable(statuses: readonly EndpointStatus[]): string {
  const rows = statuses.map((s) =>
    s.ok
      ? [
          String(s.status.id),
          s.endpoint,
          s.status.role,
          String(s.status.term),
          s.status.leader === 0 ? '-' : String(s.status.leader),
          String(s.status.commit),
          String(s.status.applied),
          String(s.status.lastIndex),
          '',
        ]
      : ['-', s.endpoint, 'unreachable', '-', '-', '-', '-', '-', `${s.error.code}: ${s.error.message}`],
  );
  const header = ['ID', 'ENDPOINT', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LAST-INDEX', 'ERROR'];
  // The ERROR column only when some endpoint failed.
  if (statuses.every((s) => s.ok)) return formatTable(header.slice(0, -1), rows.map((r) => r.slice(0, -1)));
  return formatTable(header, rows);
}

/** The `kvctl member list` table; the leader is marked with `*`. */
export function formatMemberTable(members: readonly Member[], leader: number): string {
  const rows = [...members]
    .sort((a, b) => a.id - b.id)
    .map((m) => [String(m.id) + (m.id === leader ? '*' : ''), m.role, m.peerAddress, m.clientAddress]);
  return formatTable(['ID', 'ROLE', 'PEER-ADDRESS', 'CLIENT-ADDRESS'], rows);
}

/** Bytes for JSON: a string when they are valid UTF-8, else `{ base64 }`. */
export function jsonBytes(bytes: Uint8Array): string | { base64: string } {
  const text = utf8OrUndefined(bytes);
  return text !== undefined ? text : { base64: Buffer.from(bytes).toString('base64') };
}

/** An entry as JSON. */
export function entryJson(e: KvEntry): Record<string, unknown> {
  return { key: jsonBytes(e.key), value: jsonBytes(e.value), revision: e.revision, createRevision: e.createRevision };
}

/** An endpoint status as JSON. */
export function statusJson(s: EndpointStatus): Record<string, unknown> {
  return s.ok ? { endpoint: s.endpoint, ok: true, ...s.status } : { endpoint: s.endpoint, ok: false, error: errorJson(s.error) };
}

/** A KeelError as JSON. */
export function errorJson(e: KeelError): Record<string, unknown> {
  return { code: e.code, message: e.message, definite: e.definite, ...(e.leaderId !== undefined ? { leaderId: e.leaderId } : {}) };
}

/** One scan line: key, a tab, the value (UTF-8, with invalid bytes replaced). */
export function scanLine(e: KvEntry): string {
  return `${utf8(e.key)}\t${utf8(e.value)}\n`;
}
