import { describe, expect, it } from 'vitest';
import { KeelError } from '@keel/protocol';
import { RetryState } from '../src/retry.js';
import type { OpKind } from '../src/retry.js';

const tuning = { backoffBaseMs: 10, backoffMaxMs: 400, immediateRedirectsMax: 3 };
const state = (kind: OpKind, deadlineMs = 5000): RetryState =>
  new RetryState({ kind, opName: 'op', nowMs: 0, deadlineMs, tuning, random: () => 0.5 });

const lost = (definite: boolean): KeelError => new KeelError('CONNECTION_LOST', 'lost', { definite });
const timeout = (definite: boolean): KeelError => new KeelError('TIMEOUT', 'slow', { definite });

describe('RetryState', () => {
  it('follows a NOT_LEADER hint at once, then backs off after repeated redirects', () => {
    const r = state('write');
    const hint = new KeelError('NOT_LEADER', 'not me', { leaderId: 2, leaderAddress: '127.0.0.1:7002' });
    for (let i = 0; i < 3; i++) {
      expect(r.onFailure(hint, 0)).toEqual({
        action: 'retry',
        delayMs: 0,
        target: { kind: 'address', address: '127.0.0.1:7002' },
        avoidFailedNode: false,
      });
    }
    const fourth = r.onFailure(hint, 0);
    expect(fourth.action).toBe('retry');
    expect(fourth.action === 'retry' && fourth.delayMs).toBeGreaterThan(0);
  });

  it('NOT_LEADER without a (usable) hint backs off and tries another node', () => {
    const d = state('read').onFailure(new KeelError('NOT_LEADER', 'no leader known'), 0);
    expect(d).toMatchObject({ action: 'retry', target: { kind: 'other' } });
    const empty = state('read').onFailure(new KeelError('NOT_LEADER', 'x', { leaderId: 2, leaderAddress: '' }), 0);
    expect(empty).toMatchObject({ action: 'retry', target: { kind: 'other' } });
  });

  it('does not follow a hint the client may not contact (followRedirects: false)', () => {
    const r = new RetryState({ kind: 'write', opName: 'op', nowMs: 0, deadlineMs: 5000, tuning, random: () => 0.5, followHint: () => false });
    const d = r.onFailure(new KeelError('NOT_LEADER', 'not me', { leaderId: 2, leaderAddress: '127.0.0.1:7002' }), 0);
    expect(d).toMatchObject({ action: 'retry', target: { kind: 'other' } });
    expect(d.action === 'retry' && d.delayMs).toBeGreaterThan(0);
  });

  it('backoff grows exponentially up to the cap', () => {
    const r = state('read', 1e9);
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = r.onFailure(new KeelError('UNAVAILABLE', 'election'), 0);
      if (d.action !== 'retry') throw new Error('expected a retry');
      delays.push(d.delayMs);
    }
    // random() = 0.5 -> 3/4 of the nominal delay 10, 20, 40, ... capped at 400.
    expect(delays).toEqual([8, 15, 30, 60, 120, 240, 300, 300, 300, 300]);
  });

  it('a write whose attempt may have applied ends indeterminate at the deadline', () => {
    const r = state('write', 100);
    expect(r.onFailure(timeout(false), 0).action).toBe('retry');
    const d = r.onFailure(new KeelError('UNAVAILABLE', 'no leader'), 99);
    expect(d.action).toBe('fail');
    if (d.action !== 'fail') return;
    expect(d.error.definite).toBe(false);
    expect(d.error.code).toBe('INDETERMINATE');
    expect(r.mayHaveApplied).toBe(true);
  });

  it('a write whose attempts all failed before reaching a node fails definitely', () => {
    const r = state('write', 100);
    expect(r.onFailure(lost(true), 0).action).toBe('retry');
    const d = r.onFailure(lost(true), 99);
    expect(d).toMatchObject({ action: 'fail', error: { code: 'UNAVAILABLE', definite: true } });
  });

  it('a timed-out last attempt reports TIMEOUT, indeterminate only for writes', () => {
    const w = state('write', 10).onFailure(timeout(false), 10);
    expect(w).toMatchObject({ action: 'fail', error: { code: 'TIMEOUT', definite: false } });
    const r = state('read', 10).onFailure(timeout(false), 10);
    expect(r).toMatchObject({ action: 'fail', error: { code: 'TIMEOUT', definite: true } });
  });

  it('does not retry errors that another attempt cannot fix', () => {
    for (const code of ['INVALID_ARGUMENT', 'TOO_LARGE', 'INTERNAL', 'UNKNOWN_COMMAND'] as const) {
      const d = state('write').onFailure(new KeelError(code, 'no'), 0);
      expect(d).toMatchObject({ action: 'fail', error: { code, definite: true } });
    }
  });

  it('a permanent error after an ambiguous attempt is reported as INDETERMINATE', () => {
    const r = state('write');
    r.onFailure(lost(false), 0);
    const d = r.onFailure(new KeelError('INTERNAL', 'boom'), 1);
    expect(d).toMatchObject({ action: 'fail', error: { code: 'INDETERMINATE', definite: false } });
  });

  it('membership changes are not retried once an attempt may have applied', () => {
    const admin = state('admin');
    expect(admin.onFailure(lost(true), 0).action).toBe('retry');
    expect(admin.onFailure(new KeelError('CONF_CHANGE_PENDING', 'busy'), 1).action).toBe('retry');
    expect(admin.onFailure(lost(false), 2)).toMatchObject({ action: 'fail', error: { code: 'INDETERMINATE', definite: false } });
  });

  it('avoids a node that timed out or was unreachable, not one that redirected', () => {
    const d1 = state('read').onFailure(timeout(true), 0);
    expect(d1).toMatchObject({ action: 'retry', avoidFailedNode: true });
    const d2 = state('read').onFailure(new KeelError('NOT_LEADER', 'x'), 0);
    expect(d2).toMatchObject({ action: 'retry', avoidFailedNode: false });
  });
});
