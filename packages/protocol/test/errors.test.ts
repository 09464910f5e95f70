import { describe, expect, it } from 'vitest';
import { KeelError, isKeelError } from '@keel/protocol';

describe('KeelError', () => {
  it('survives the trip through its wire form with code, definiteness and leader hint', () => {
    const original = new KeelError('NOT_LEADER', 'node 2 is not the leader', {
      definite: true,
      leaderId: 3,
      leaderAddress: '127.0.0.1:7003',
    });
    const back = KeelError.fromWire(original.toWire());
    expect(isKeelError(back)).toBe(true);
    expect(back.code).toBe('NOT_LEADER');
    expect(back.definite).toBe(true);
    expect(back.leaderId).toBe(3);
    expect(back.leaderAddress).toBe('127.0.0.1:7003');
    expect(back.message).toBe('node 2 is not the leader');
  });

  it('defaults to a definite failure and omits absent hints on the wire', () => {
    const wire = new KeelError('TOO_LARGE', 'value is 2 MiB; the limit is 1 MiB').toWire();
    expect(wire).toEqual({ code: 'TOO_LARGE', message: 'value is 2 MiB; the limit is 1 MiB', definite: true });
  });
});
