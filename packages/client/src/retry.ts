/**
 * The retry policy: given how an attempt failed, retry (where, after how long) or give up (with
 * which error). Pure logic: the caller supplies the clock reading and the random source.
 *
 * - Reads never change state, so every transient failure is retried until the deadline.
 * - Writes carry a {@link WriteSession}, so every transient failure is retried with the same
 *   identity until the deadline; if any attempt may have reached the log, the final error says so
 *   (`definite: false`).
 * - Membership and leadership changes carry no session: they are retried only while every failure
 *   is definite (the change certainly did not happen); once an attempt's fate is unknown the
 *   operation ends with `INDETERMINATE`.
 */
import { KeelError } from '@keel/protocol';
import type { ErrorCode } from '@keel/protocol';
import { parseAddress } from './validate.js';

function isAddress(value: string | undefined): value is string {
  return value !== undefined && parseAddress(value) !== undefined;
}

/** How an operation may be retried. */
export type OpKind = 'read' | 'write' | 'admin';

/** Codes after which another attempt may succeed. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'NOT_LEADER',
  'UNAVAILABLE',
  'TIMEOUT',
  'INDETERMINATE',
  'OVERLOADED',
  'TRANSFER_IN_PROGRESS',
  'SHUTTING_DOWN',
  'CONNECTION_LOST',
]);

/** Codes that mean "this node cannot serve you; try another one". */
const TRY_ANOTHER_NODE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'NOT_LEADER',
  'UNAVAILABLE',
  'TIMEOUT',
  'SHUTTING_DOWN',
  'CONNECTION_LOST',
]);

/** Below this many milliseconds before the deadline, no further attempt is made. */
const LAST_ATTEMPT_MS_MIN = 20;

/** Tunables of the policy, in milliseconds. */
export interface RetryTuning {
  /** First backoff delay. */
  readonly backoffBaseMs: number;
  /** Largest backoff delay. */
  readonly backoffMaxMs: number;
  /** Redirects to a hinted leader that are followed at once before backing off. */
  readonly immediateRedirectsMax: number;
}

export const DEFAULT_RETRY_TUNING: RetryTuning = { backoffBaseMs: 10, backoffMaxMs: 400, immediateRedirectsMax: 3 };

/** What to do after a failed attempt. */
export type RetryDecision =
  | {
      readonly action: 'retry';
      readonly delayMs: number;
      /** Where to send the next attempt: the hinted leader, or any other node. */
      readonly target: { readonly kind: 'address'; readonly address: string } | { readonly kind: 'other' };
      /** The failed node should be avoided for a while (unreachable, timed out, shutting down). */
      readonly avoidFailedNode: boolean;
    }
  | { readonly action: 'fail'; readonly error: KeelError };

/** Tracks one operation's attempts and decides about retries. */
export class RetryState {
  readonly kind: OpKind;
  readonly opName: string;
  private readonly deadlineMs: number;
  private readonly startMs: number;
  private readonly tuning: RetryTuning;
  private readonly random: () => number;
  private readonly followHint: (address: string) => boolean;
  /** Whether some attempt may have taken effect (only writes and admin ops can). */
  private maybeApplied = false;
  private failures = 0;
  private redirectsInARow = 0;

  constructor(opts: {
    kind: OpKind;
    opName: string;
    nowMs: number;
    deadlineMs: number;
    tuning?: RetryTuning;
    random?: () => number;
    /** Whether a NOT_LEADER hint naming `address` may be followed. Default: any usable address. */
    followHint?: (address: string) => boolean;
  }) {
    this.kind = opts.kind;
    this.opName = opts.opName;
    this.startMs = opts.nowMs;
    this.deadlineMs = opts.deadlineMs;
    this.tuning = opts.tuning ?? DEFAULT_RETRY_TUNING;
    this.random = opts.random ?? Math.random;
    this.followHint = opts.followHint ?? (() => true);
  }

  /** True once an attempt's outcome was unknown: the final error, if any, must be indeterminate. */
  get mayHaveApplied(): boolean {
    return this.maybeApplied;
  }

  /** Number of failed attempts so far. */
  get attempts(): number {
    return this.failures;
  }

  /** Decides what follows a failed attempt. */
  onFailure(error: KeelError, nowMs: number): RetryDecision {
    this.failures++;
    const unknownFate = this.kind !== 'read' && !error.definite;
    if (this.kind === 'admin' && unknownFate) {
      this.maybeApplied = true;
      return { action: 'fail', error: this.indeterminate(error) };
    }
    if (unknownFate) this.maybeApplied = true;

    const transient = TRANSIENT.has(error.code) || (this.kind === 'admin' && error.code === 'CONF_CHANGE_PENDING');
    if (!transient) return { action: 'fail', error: this.final(error) };

    // A hint is followed only when it is a usable address (a node may not know the leader's yet)
    // that the client may contact.
    const hint =
      error.code === 'NOT_LEADER' && isAddress(error.leaderAddress) && this.followHint(error.leaderAddress) ? error.leaderAddress : undefined;
    let delayMs: number;
    if (hint !== undefined && this.redirectsInARow < this.tuning.immediateRedirectsMax) {
      this.redirectsInARow++;
      delayMs = 0;
    } else {
      this.redirectsInARow = 0;
      delayMs = error.code === 'CONNECTION_LOST' && this.failures === 1 ? 0 : this.backoffMs();
    }
    const remainingMs = this.deadlineMs - nowMs;
    if (delayMs >= remainingMs) {
      // Not enough time for a full backoff: wait half of what is left and make a last attempt,
      // unless too little is left for an attempt to be worth it.
      if (remainingMs < LAST_ATTEMPT_MS_MIN) return { action: 'fail', error: this.gaveUp(error, nowMs) };
      delayMs = Math.floor(remainingMs / 2);
    }
    return {
      action: 'retry',
      delayMs,
      target: hint !== undefined ? { kind: 'address', address: hint } : { kind: 'other' },
      avoidFailedNode: TRY_ANOTHER_NODE.has(error.code) && error.code !== 'NOT_LEADER' && error.code !== 'UNAVAILABLE',
    };
  }

  /**
   * The error for an operation ended early by `error`: indeterminate if some attempt may have
   * applied, else definite (a read's or a refused attempt's error may say otherwise: it cannot).
   */
  final(error: KeelError): KeelError {
    if (this.maybeApplied) return this.indeterminate(error);
    if (error.definite) return error;
    return new KeelError(error.code, error.message, { definite: true, cause: error });
  }

  /** The error for an operation whose deadline passed before any attempt could be made. */
  deadlineExceeded(nowMs: number, last?: KeelError): KeelError {
    return this.gaveUp(last ?? new KeelError('TIMEOUT', 'no attempt could be made'), nowMs);
  }

  /** The error for an operation stopped from outside (the client was closed) after `last` failed. */
  abandoned(reason: string, last: KeelError): KeelError {
    const fate = this.maybeApplied ? '; it may or may not have been applied' : '';
    return new KeelError(this.maybeApplied ? 'INDETERMINATE' : 'CONNECTION_LOST', `${this.opName} stopped: ${reason}${fate}`, {
      definite: !this.maybeApplied,
      cause: last,
    });
  }

  /** Exponential backoff with jitter: uniformly in [d/2, d], d = base * 2^(failures-1), capped. */
  private backoffMs(): number {
    const d = Math.min(this.tuning.backoffMaxMs, this.tuning.backoffBaseMs * 2 ** Math.min(this.failures - 1, 20));
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  /** The error reported when the deadline passes; indeterminate if some attempt may have applied. */
  private gaveUp(last: KeelError, nowMs: number): KeelError {
    const code: ErrorCode =
      last.code === 'TIMEOUT'
        ? 'TIMEOUT'
        : this.maybeApplied
          ? 'INDETERMINATE'
          : last.code === 'NOT_LEADER' || last.code === 'CONNECTION_LOST'
            ? 'UNAVAILABLE'
            : last.code;
    const fate = this.maybeApplied ? '; it may or may not have been applied' : '';
    return new KeelError(
      code,
      `${this.opName} gave up after ${Math.round(nowMs - this.startMs)} ms and ${this.failures} attempt(s)${fate}; last error ${last.code}: ${last.message}`,
      { definite: !this.maybeApplied, cause: last },
    );
  }

  private indeterminate(last: KeelError): KeelError {
    return new KeelError('INDETERMINATE', `${this.opName} may or may not have been applied; last error ${last.code}: ${last.message}`, {
      definite: false,
      cause: last,
    });
  }
}
