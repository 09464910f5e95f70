import { describe, expect, it } from 'vitest';
import { KeelError } from '@keel/protocol';
import { EXIT, exitCodeFor } from '../src/cli/exit-codes.js';
import { formatMemberTable, formatStatusTable, formatTable, jsonBytes } from '../src/cli/format.js';
import { parseEndpoints, valueComesFromStdin } from '../src/cli/input.js';

describe('kvctl formatting and parsing', () => {
  it('aligns table columns', () => {
    expect(formatTable(['A', 'LONG'], [['xyz', '1'], ['q', '22']])).toBe('A    LONG\nxyz  1\nq    22\n');
  });

  it('shows every endpoint in the status table, unreachable ones with their error', () => {
    const text = formatStatusTable([
      {
        endpoint: '127.0.0.1:7001',
        ok: true,
        status: { id: 1, role: 'leader', term: 3, leader: 1, commit: 10, applied: 9, lastIndex: 11, clientAddress: '127.0.0.1:7001' },
      },
      { endpoint: '127.0.0.1:7002', ok: false, error: new KeelError('CONNECTION_LOST', 'refused') },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual(['ID', 'ENDPOINT', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LAST-INDEX', 'ERROR']);
    expect(lines[1]!.split(/\s+/)).toEqual(['1', '127.0.0.1:7001', 'leader', '3', '1', '10', '9', '11']);
    expect(lines[2]).toContain('unreachable');
    expect(lines[2]).toContain('CONNECTION_LOST: refused');
  });

  it('marks the leader in the member table', () => {
    const text = formatMemberTable(
      [
        { id: 2, role: 'voter', peerAddress: 'h:2', clientAddress: 'h:12' },
        { id: 1, role: 'learner', peerAddress: 'h:1', clientAddress: 'h:11' },
      ],
      2,
    );
    expect(text.split('\n').slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual(['1', '2*']);
  });

  it('prints bytes as text when they are UTF-8, else base64', () => {
    expect(jsonBytes(new TextEncoder().encode('héllo'))).toBe('héllo');
    expect(jsonBytes(new Uint8Array([0xff, 0x00]))).toEqual({ base64: '/wA=' });
  });

  it('maps error codes to the documented exit statuses', () => {
    expect(exitCodeFor(new KeelError('TIMEOUT', 'x', { definite: false }))).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(new KeelError('INDETERMINATE', 'x', { definite: false }))).toBe(3);
    expect(exitCodeFor(new KeelError('UNAVAILABLE', 'x'))).toBe(3);
    expect(exitCodeFor(new KeelError('INVALID_ARGUMENT', 'x'))).toBe(2);
    expect(exitCodeFor(new KeelError('TOO_LARGE', 'x'))).toBe(2);
    expect(exitCodeFor(new KeelError('INVALID_MEMBERSHIP', 'x'))).toBe(4);
    expect(exitCodeFor(new KeelError('INTERNAL', 'x'))).toBe(4);
    expect(exitCodeFor(new TypeError('x'))).toBe(2);
  });

  it('parses endpoint lists and rejects malformed ones', () => {
    expect(parseEndpoints('127.0.0.1:7001, 127.0.0.1:7002')).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
    expect(() => parseEndpoints('127.0.0.1')).toThrow(/host:port/);
    expect(() => parseEndpoints(' , ')).toThrow();
  });

  it('reads the value from stdin for "-", or when it is omitted and stdin is not a terminal', () => {
    const tty = { isTTY: true, [Symbol.asyncIterator]: async function* () {} };
    const pipe = { isTTY: false, [Symbol.asyncIterator]: async function* () {} };
    expect(valueComesFromStdin('-', tty)).toBe(true);
    expect(valueComesFromStdin(undefined, pipe)).toBe(true);
    expect(valueComesFromStdin(undefined, tty)).toBe(false);
    expect(valueComesFromStdin('v', pipe)).toBe(false);
  });
});
