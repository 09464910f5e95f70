/**
 * Envelope check for responses, for clients: a decoded frame must be `{ id, ok: true, result }`
 * or `{ id, ok: false, error: WireError }`. The result's shape is trusted (it comes from the
 * server that validated the request); the envelope is what a client needs to route it.
 */
import type { ClientResponse, WatchEventsFrame } from './client-api.js';
import type { WireError } from './errors.js';
import { ERROR_CODES, KeelError } from './errors.js';

function malformed(what: string): never {
  throw new KeelError('MALFORMED_FRAME', `malformed response: ${what}`);
}

/**
 * Checks a decoded frame from the server: a response, or the events of an open watch
 * (`{ id, watch: { events, revision } }`; the events' shapes are trusted like results).
 * Throws `KeelError('MALFORMED_FRAME')`.
 */
export function validateServerFrame(value: unknown): ClientResponse | WatchEventsFrame {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'watch' in value) {
    const f = value as Record<string, unknown>;
    const id = f['id'];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) malformed(`a watch frame's 'id' must be an integer >= 0`);
    const w = f['watch'] as Record<string, unknown> | null;
    if (typeof w !== 'object' || w === null || !Array.isArray(w['events']) || typeof w['revision'] !== 'number') {
      malformed(`'watch' must be { events, revision }`);
    }
    return value as WatchEventsFrame;
  }
  return validateClientResponse(value);
}

/**
 * Checks a decoded response frame. `id` is a request id, or `NO_REQUEST_ID` (-1) for a
 * connection-level error the server sends just before closing. Throws `KeelError('MALFORMED_FRAME')`.
 */
export function validateClientResponse(value: unknown): ClientResponse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed('not a map');
  const f = value as Record<string, unknown>;
  const id = f['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < -1) malformed(`'id' must be an integer >= -1`);
  if (f['ok'] === true) {
    if (!('result' in f)) malformed(`'result' is missing`);
    return value as ClientResponse;
  }
  if (f['ok'] !== false) malformed(`'ok' must be a boolean`);
  const error = f['error'];
  if (typeof error !== 'object' || error === null) malformed(`'error' must be a map`);
  const e = error as Record<string, unknown>;
  if (typeof e['code'] !== 'string' || !Object.hasOwn(ERROR_CODES, e['code'])) malformed(`'error.code' is not a known error code`);
  if (typeof e['message'] !== 'string') malformed(`'error.message' must be a string`);
  if (typeof e['definite'] !== 'boolean') malformed(`'error.definite' must be a boolean`);
  if (e['leaderId'] !== undefined && e['leaderId'] !== null && typeof e['leaderId'] !== 'number') malformed(`'error.leaderId' must be a number`);
  if (e['leaderAddress'] !== undefined && e['leaderAddress'] !== null && typeof e['leaderAddress'] !== 'string') {
    malformed(`'error.leaderAddress' must be a string`);
  }
  if (e['compactRevision'] !== undefined && e['compactRevision'] !== null && typeof e['compactRevision'] !== 'number') {
    malformed(`'error.compactRevision' must be a number`);
  }
  return { id, ok: false, error: e as unknown as WireError };
}
