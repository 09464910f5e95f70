/**
 * {@link KeelClient} options: each field's unit, default and interactions, checked once here.
 */
import { KeelError } from '@keel/protocol';
import { describeType } from './bytes.js';
import { checkAddress } from './validate.js';

export interface KeelClientOptions {
  /** Client addresses ("host:port") of some or all nodes. Required, at least one. */
  readonly endpoints: readonly string[];
  /**
   * Deadline of one operation, retries included, in milliseconds. Default 5000. When it passes
   * the operation fails with `TIMEOUT` (or `UNAVAILABLE`/`INDETERMINATE`, see the README).
   */
  readonly timeoutMs?: number;
  /**
   * How long a node may go without progress while requests wait before the client probes it
   * (asks its status), in milliseconds; also the probe's deadline and the connect timeout. A node
   * that does not answer the probe (paused, partitioned), or whose commit index stands still
   * while writes wait (a leader cut off from its quorum), is given up on and another node is
   * tried. A busy node that keeps answering or committing is never abandoned. Default
   * `min(1000, timeoutMs)`.
   */
  readonly stallTimeoutMs?: number;
  /** First retry backoff, in milliseconds (doubles per failed attempt, with jitter). Default 10. */
  readonly backoffBaseMs?: number;
  /** Largest retry backoff, in milliseconds. Default 400. */
  readonly backoffMaxMs?: number;
  /** How long a node that was unreachable or timed out is avoided, in milliseconds. Default 1000. */
  readonly avoidMs?: number;
  /**
   * First wait before a node whose connection was refused (nothing listening, or the server
   * refused it with OVERLOADED) or could not be opened is dialled again, in milliseconds. It
   * doubles per refusal in a row, with jitter over its upper half, until the node answers.
   * Default 100.
   */
  readonly reconnectBackoffBaseMs?: number;
  /** Largest wait between two dials of a refusing node, in milliseconds. Default 2000. */
  readonly reconnectBackoffMaxMs?: number;
  /**
   * A client address believed to be the leader's (e.g. remembered from an earlier run, see
   * {@link KeelClient.leaderAddress}): the first request goes there instead of searching.
   * Need not be in `endpoints`. A wrong guess costs one redirect.
   */
  readonly leaderHint?: string;
  /**
   * Whether the client may contact nodes it learns of from `NOT_LEADER` answers. Default true.
   * With false it only ever talks to `endpoints` (a hint naming one of them is still followed):
   * a client pinned to one node, as tests of a partitioned node's answers need. A write sent to a
   * follower then fails with `UNAVAILABLE` at the deadline.
   */
  readonly followRedirects?: boolean;
  /**
   * Which nodes serve this client's reads (`get`, `scan`, `scanAll`). `'leader'` (default): the
   * leader, like writes — one hop, and the lowest latency for a read alone. `'spread'`: every
   * node in turn, followers included, as etcd's clients balance over their endpoints; a cluster
   * then serves more reads at once, since each node answers its share. Linearizable reads stay
   * linearizable either way: a follower asks the leader for the commit index and answers once it
   * has applied that far (a follower cut off from the leader answers none, and the read moves on
   * to another node). Serializable reads answer from the serving node's state, which may be
   * behind the leader's: with `'spread'` two such reads in a row can come from different nodes,
   * the second older than the first.
   */
  readonly reads?: ReadRouting;
  /**
   * Connect with TLS (the nodes run with `--client-cert`). `ca`: PEM certificate(s) that sign the
   * nodes' certificates (default: the system's CAs); the node's certificate must also name the
   * host or address dialled. `cert` and `key`: this client's PEM certificate and key, for nodes
   * that require client certificates (`--client-ca`); both or neither. A TLS client at a plaintext
   * port, a plaintext client at a TLS port, or a certificate either end does not accept fails the
   * operation with `TLS_FAILED`.
   */
  readonly tls?: TlsOptions;
  /**
   * Authenticate every connection as this user (clusters with auth enabled). The client sends
   * `authenticate` first on each new connection and sends nothing else on it until the node
   * accepted it; a wrong user or password fails the operation with `AUTH_FAILED`. Without it,
   * a cluster with auth enabled answers `AUTH_REQUIRED` (unless the node requires client
   * certificates and the certificate's common name is a user).
   */
  readonly auth?: AuthOptions;
}

/** {@link KeelClientOptions.reads}. */
export type ReadRouting = 'leader' | 'spread';
export const READ_ROUTINGS: readonly ReadRouting[] = ['leader', 'spread'];

/** Credentials of {@link KeelClientOptions.auth}. */
export interface AuthOptions {
  readonly user: string;
  readonly password: string;
}

/** TLS settings of {@link KeelClientOptions.tls}: PEM text or bytes. */
export interface TlsOptions {
  readonly ca?: string | Uint8Array;
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
}

/** TLS settings as `node:tls` takes them. */
export interface ResolvedTls {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly stallTimeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly avoidMs: number;
  readonly reconnectBackoffBaseMs: number;
  readonly reconnectBackoffMaxMs: number;
  readonly leaderHint: string | undefined;
  readonly followRedirects: boolean;
  readonly reads: ReadRouting;
  readonly tls: ResolvedTls | undefined;
  readonly auth: AuthOptions | undefined;
  /** Period of the deadline sweep, in milliseconds (derived: a tenth of the stall timeout, 5..50). */
  readonly sweepMs: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_STALL_TIMEOUT_MS = 1000;

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describeType(value)}`);
  if (!Number.isFinite(value) || value <= 0) throw new KeelError('INVALID_ARGUMENT', `${name} must be a positive number, got ${value}`);
  return value;
}

/** Validates options and fills in defaults. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`KeelClient options must be an object, got ${describeType(options)}`);
  }
  const o = options as Record<string, unknown>;
  const endpoints = o['endpoints'];
  if (!Array.isArray(endpoints)) throw new TypeError(`endpoints must be an array of "host:port" strings, got ${describeType(endpoints)}`);
  if (endpoints.length === 0) throw new KeelError('INVALID_ARGUMENT', 'endpoints must name at least one node');
  const checked = [...new Set(endpoints.map((e, i) => checkAddress(e, `endpoints[${i}]`)))];
  const timeoutMs = positive(o['timeoutMs'], 'timeoutMs', DEFAULT_TIMEOUT_MS);
  const stallTimeoutMs = Math.min(timeoutMs, positive(o['stallTimeoutMs'], 'stallTimeoutMs', DEFAULT_STALL_TIMEOUT_MS));
  const backoffBaseMs = positive(o['backoffBaseMs'], 'backoffBaseMs', 10);
  const backoffMaxMs = Math.max(backoffBaseMs, positive(o['backoffMaxMs'], 'backoffMaxMs', 400));
  const avoidMs = positive(o['avoidMs'], 'avoidMs', 1000);
  const reconnectBackoffBaseMs = positive(o['reconnectBackoffBaseMs'], 'reconnectBackoffBaseMs', 100);
  const reconnectBackoffMaxMs = Math.max(reconnectBackoffBaseMs, positive(o['reconnectBackoffMaxMs'], 'reconnectBackoffMaxMs', 2000));
  const leaderHint = o['leaderHint'] === undefined ? undefined : checkAddress(o['leaderHint'], 'leaderHint');
  const followRedirects = o['followRedirects'] ?? true;
  if (typeof followRedirects !== 'boolean') throw new TypeError(`followRedirects must be a boolean, got ${describeType(followRedirects)}`);
  const reads = o['reads'] ?? 'leader';
  if (typeof reads !== 'string') throw new TypeError(`reads must be 'leader' or 'spread', got ${describeType(reads)}`);
  if (!READ_ROUTINGS.includes(reads as ReadRouting)) throw new KeelError('INVALID_ARGUMENT', `reads must be 'leader' or 'spread', got '${reads}'`);
  const tls = checkTls(o['tls']);
  const auth = checkAuth(o['auth']);
  const sweepMs = Math.min(50, Math.max(5, Math.round(stallTimeoutMs / 10)));
  return {
    endpoints: checked,
    timeoutMs,
    stallTimeoutMs,
    backoffBaseMs,
    backoffMaxMs,
    avoidMs,
    reconnectBackoffBaseMs,
    reconnectBackoffMaxMs,
    leaderHint,
    followRedirects,
    reads: reads as ReadRouting,
    tls,
    auth,
    sweepMs,
  };
}

function checkAuth(value: unknown): AuthOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new TypeError(`auth must be an object { user, password }, got ${describeType(value)}`);
  const { user, password } = value as Record<string, unknown>;
  if (typeof user !== 'string' || user.length === 0) throw new TypeError(`auth.user must be a non-empty string, got ${describeType(user)}`);
  if (typeof password !== 'string' || password.length === 0) throw new TypeError(`auth.password must be a non-empty string`);
  return { user, password };
}

function checkTls(value: unknown): ResolvedTls | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new TypeError(`tls must be an object { ca, cert, key }, got ${describeType(value)}`);
  const t = value as Record<string, unknown>;
  const out: { -readonly [K in keyof ResolvedTls]: ResolvedTls[K] } = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const v = t[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new TypeError(`tls.${name} must be PEM text (a string or bytes), got ${describeType(v)}`);
    out[name] = typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new KeelError('INVALID_ARGUMENT', `tls.cert and tls.key go together: ${out.cert === undefined ? 'tls.key' : 'tls.cert'} given alone`);
  }
  return out;
}
