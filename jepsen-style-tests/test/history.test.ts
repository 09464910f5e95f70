/**
 * The history format: JSONL writing and reading, event shapes, and the well-formedness rules the
 * checkers rely on (DESIGN §6).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryWriter, formatEvent, parseHistory, readHistory, writeHistoryFile } from '../src/history/jsonl.js';
import type { Op } from '../src/history/op.js';
import { pairOperations } from '../src/history/operations.js';
import { HistoryError, describeProblem, opShapeProblem, validateHistory } from '../src/history/validate.js';
import { simulateRegisterHistory, simulateSetHistory } from '../src/testing/simulate.js';
import { cas, history, read, write } from './support/build.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-history-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ev = (o: Partial<Op> & Pick<Op, 'process' | 'type' | 'f'>): Op => ({ key: 'k', value: null, time: 0, ...o });

describe('JSONL files', () => {
  it('writes one line per event in the DESIGN field order', () => {
    const line = formatEvent({ time: 12, value: 12, key: 'k7', f: 'write', type: 'invoke', process: 3 });
    expect(line).toBe('{"process":3,"type":"invoke","f":"write","key":"k7","value":12,"time":12}');
    const failed = formatEvent({ process: 3, type: 'fail', f: 'read', key: 'k', value: null, time: 5, node: 2, error: { code: 'UNAVAILABLE', message: 'no quorum' } });
    expect(failed).toBe('{"process":3,"type":"fail","f":"read","key":"k","value":null,"time":5,"node":2,"error":{"code":"UNAVAILABLE","message":"no quorum"}}');
    const acquired = formatEvent({ revision: 41, process: 4, type: 'ok', f: 'acquire', key: 'lock', value: null, time: 7, node: 1 });
    expect(acquired).toBe('{"process":4,"type":"ok","f":"acquire","key":"lock","value":null,"time":7,"node":1,"revision":41}');
    expect(parseHistory(acquired)).toEqual([{ process: 4, type: 'ok', f: 'acquire', key: 'lock', value: null, time: 7, node: 1, revision: 41 }]);
  });

  it('the streaming writer puts each event in the file before append returns, and reads back the same history', async () => {
    const path = join(dir, 'history.jsonl');
    const h = simulateRegisterHistory({ seed: 1, ops: 300, keys: 3, clients: 4, infoRate: 0.05, failRate: 0.05 });
    const writer = HistoryWriter.open(path);
    h.slice(0, 10).forEach((op) => writer.append(op));
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(11); // already on disk, mid-run
    h.slice(10).forEach((op) => writer.append(op));
    writer.close();
    writer.close();
    expect(writer.written).toBe(h.length);
    expect(await readHistory(path)).toEqual(h);
    expect(() => writer.append(h[0]!)).toThrow(/closed/);
  });

  it('round-trips any simulated history through the file, and writeHistoryFile matches the stream', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), async (seed) => {
        const h = simulateSetHistory({ seed, ops: 50, clients: 3, infoRate: 0.1, failRate: 0.1 });
        const path = join(dir, `h${seed}.jsonl`);
        await writeHistoryFile(path, h);
        expect(await readHistory(path)).toEqual(h);
      }),
      { numRuns: 20 },
    );
  });

  it('the writer refuses a malformed event instead of writing it', () => {
    const writer = HistoryWriter.open(join(dir, 'bad.jsonl'));
    expect(() => writer.append({ ...ev({ process: 1, type: 'invoke', f: 'write' }), value: null })).toThrow(HistoryError);
    writer.close();
  });

  it('parse errors name every bad line', async () => {
    const good = formatEvent(ev({ process: 1, type: 'invoke', f: 'read' }));
    const path = join(dir, 'broken.jsonl');
    await writeFile(path, `${good}\n{"process":1,\n${good}\n\n{"process":-1,"type":"ok","f":"read","key":"k","value":null,"time":0}\n`);
    const error = await readHistory(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HistoryError);
    const lines = (error as HistoryError).problems.map((p) => p.line);
    expect(lines).toEqual([2, 4, 5]);
    expect((error as HistoryError).message).toMatch(/line 2: not JSON/);
    expect((error as HistoryError).message).toMatch(/line 5: process must be a non-negative integer/);
  });

  it('an empty file is an empty history', () => {
    expect(parseHistory('')).toEqual([]);
  });
});

describe('event shapes', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /must be a JSON object/],
    ['unknown field', { ...ev({ process: 1, type: 'invoke', f: 'read' }), rev: 3 }, /unknown field rev/],
    ['revision on an invoke', { ...ev({ process: 1, type: 'invoke', f: 'change', value: 1 }), revision: 3 }, /revision is only allowed on ok/],
    ['revision of a read', { ...ev({ process: 1, type: 'ok', f: 'read' }), revision: 3 }, /revision is only recorded for change, acquire and fenced-write/],
    ['watch from no revision', ev({ process: 1, type: 'invoke', f: 'watch', value: null }), /a watch's invoke value must be the revision it watches from/],
    ['watch events as values', ev({ process: 1, type: 'ok', f: 'watch', value: [1, 2] }), /a watch's ok value must be the events it delivered/],
    ['release of no token', ev({ process: 1, type: 'invoke', f: 'release', value: null }), /release value must be the token released/],
    ['fenced-write without n', ev({ process: 1, type: 'invoke', f: 'fenced-write', value: [3] as never }), /fenced-write value must be \[token, n\]/],
    ['bad type', ev({ process: 1, type: 'done' as never, f: 'read' }), /type must be one of/],
    ['bad f', ev({ process: 1, type: 'invoke', f: 'get' as never }), /f must be one of/],
    ['key not a string', { ...ev({ process: 1, type: 'invoke', f: 'read' }), key: 7 }, /key must be a string/],
    ['missing value', { process: 1, type: 'invoke', f: 'read', key: 'k', time: 0 }, /value is missing/],
    ['write without a value', ev({ process: 1, type: 'invoke', f: 'write' }), /write value must be a number or a string/],
    ['cas value not a pair', ev({ process: 1, type: 'invoke', f: 'cas', value: 3 }), /cas value must be \[expected, new\]/],
    ['read invoke with a value', ev({ process: 1, type: 'invoke', f: 'read', value: 3 }), /read's invoke value must be null/],
    ['delete with a value', ev({ process: 1, type: 'invoke', f: 'delete', value: 3 }), /delete value must be null/],
    ['fractional time', ev({ process: 1, type: 'invoke', f: 'read', time: 1.5 }), /time must be a non-negative integer/],
    ['bad node', ev({ process: 1, type: 'invoke', f: 'read', node: -2 }), /node must be a node id/],
    ['error on ok', ev({ process: 1, type: 'ok', f: 'read', error: { code: 'X', message: 'y' } }), /error is only allowed on fail and info/],
    ['error without code', ev({ process: 1, type: 'fail', f: 'read', error: { message: 'y' } as never }), /error must be \{code, message\}/],
    ['init without balances', ev({ process: 1, type: 'invoke', f: 'init', value: [] }), /init value must be the initial balances/],
    ['transfer as a list', ev({ process: 1, type: 'invoke', f: 'transfer', value: [0, 1, 3] }), /transfer value must be \{id, from, to, amount, expect\}/],
    ['transfer to itself', ev({ process: 1, type: 'invoke', f: 'transfer', value: { id: 1, from: 2, to: 2, amount: 1, expect: [[1, 0], [1, 0]] } }), /two different account numbers/],
    ['transfer of nothing', ev({ process: 1, type: 'invoke', f: 'transfer', value: { id: 1, from: 0, to: 2, amount: 0, expect: [[1, 0], [1, 0]] } }), /amount must be a positive integer/],
    ['transfer expecting one account', ev({ process: 1, type: 'invoke', f: 'transfer', value: { id: 1, from: 0, to: 2, amount: 1, expect: [[1, 0]] } as never }), /transfer expect must be/],
    ['bank read of bad accounts', ev({ process: 1, type: 'ok', f: 'read', value: [[1, 0], [1]] as never }), /an ok read's value must be/],
  ];
  it.each(cases)('rejects %s', (_, event, message) => {
    expect(opShapeProblem(event)).toMatch(message);
  });

  it('accepts the register, set, bank, watch and lock shapes', () => {
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'read', value: 'v' }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'read', value: [1, 2, 3] }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'invoke', f: 'cas', value: [null, 2] }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'info', f: 'add', key: 'set/4', value: 4, error: { code: 'TIMEOUT', message: 't' } }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'init', key: 'bank/', value: [10, 10] }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'fail', f: 'transfer', key: 'bank/', value: { id: 3, from: 0, to: 1, amount: 2, expect: [[10, 0], [10, 2]] } }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'read', key: 'bank/', value: [[-1, 0], null] }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'change', key: 'w/a', value: null, revision: 7 }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'info', f: 'watch', key: 'w/', value: [[7, 'w/a', null], [8, 'w/a', 3]] }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'acquire', key: 'lock', value: null, revision: 12 }))).toBeUndefined();
    expect(opShapeProblem(ev({ process: 1, type: 'ok', f: 'fenced-write', key: 'res', value: [12, 4], revision: 13 }))).toBeUndefined();
  });
});

describe('well-formedness', () => {
  const problems = (h: Op[]): string[] => validateHistory(h).map(describeProblem);

  it('accepts simulated histories, including invokes left outstanding at the end', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const h = simulateRegisterHistory({ seed, ops: 200, keys: 3, clients: 5, infoRate: 0.1, failRate: 0.1 });
        expect(problems(h)).toEqual([]);
        expect(problems(h.slice(0, h.length - 7))).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('a process with two operations outstanding', () => {
    const h = [ev({ process: 1, type: 'invoke', f: 'read' }), ev({ process: 1, type: 'invoke', f: 'write', value: 1, time: 1 })];
    expect(problems(h)).toEqual(['line 2 (process 1): invoked write "k" while its read "k" from line 1 is outstanding']);
  });

  it('a completion with nothing outstanding (so an invoke has at most one completion)', () => {
    const h = history(write(1, 1, 0, 1));
    expect(problems([...h, { ...h[1]!, time: 2_000_000 }])).toEqual(['line 3 (process 1): ok write "k" completes nothing: the process has no operation outstanding']);
  });

  it('a process that invokes again after info', () => {
    const h = history(write(1, 1, 0, 1, { type: 'info' }), read(1, null, 2, 3));
    expect(problems(h)).toEqual(['line 3 (process 1): invoked read "k" after its info on line 2; a process never invokes again after info']);
  });

  it('time going backwards within a process', () => {
    const h = [ev({ process: 1, type: 'invoke', f: 'read', time: 10 }), ev({ process: 1, type: 'ok', f: 'read', time: 9 })];
    expect(problems(h)).toEqual(['line 2 (process 1): time 9 is before this process\'s previous event (10)']);
  });

  it('a completion that does not match its invoke', () => {
    const wrongKey = [ev({ process: 1, type: 'invoke', f: 'read' }), ev({ process: 1, type: 'ok', f: 'read', key: 'j' })];
    expect(problems(wrongKey)).toEqual(['line 2 (process 1): ok read "j" does not match the outstanding read "k" from line 1']);
    const wrongValue = history(cas(1, 1, 2, 0, 1));
    expect(problems([wrongValue[0]!, { ...wrongValue[1]!, value: [1, 3] }])).toEqual(['line 2 (process 1): ok value [1,3] differs from the invoke\'s [1,2] on line 1']);
  });

  it('reports every problem, in line order, with shapes first-class', () => {
    const h = [ev({ process: 1, type: 'ok', f: 'read' }), { bogus: true } as unknown as Op, ev({ process: 2, type: 'info', f: 'read' })];
    expect(validateHistory(h).map((p) => p.line)).toEqual([1, 2, 3]);
  });

  it('pairs invokes with completions; an operation never completed is info', () => {
    const ops = pairOperations(history(write(1, 1, 0, 10), read(2, 1, 5, undefined), cas(3, 1, 2, 20, 30, { type: 'fail' })));
    expect(ops.map((o) => [o.process, o.f, o.outcome, o.completedAt, o.line])).toEqual([
      [1, 'write', 'ok', 10_000_000, 1],
      [2, 'read', 'info', undefined, 2],
      [3, 'cas', 'fail', 30_000_000, 4],
    ]);
    expect(() => pairOperations([ev({ process: 1, type: 'ok', f: 'read' })])).toThrow(HistoryError);
  });
});
