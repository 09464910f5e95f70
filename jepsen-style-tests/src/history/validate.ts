import { OP_FS, OP_TYPES, type Op, type OpValue } from './op.js';

/** One way a history breaks the format: `line` is 1-based (the line of `history.jsonl`). */
export interface HistoryProblem {
  readonly line: number;
  readonly process?: number;
  readonly message: string;
}

export function describeProblem(p: HistoryProblem): string {
  return `line ${p.line}${p.process === undefined ? '' : ` (process ${p.process})`}: ${p.message}`;
}

/** Thrown when a history cannot be read or paired; `problems` says where and why. */
export class HistoryError extends Error {
  constructor(readonly problems: readonly HistoryProblem[]) {
    const shown = problems.slice(0, 5).map(describeProblem);
    const more = problems.length > 5 ? `\n… and ${problems.length - 5} more` : '';
    super(`malformed history:\n${shown.join('\n')}${more}`);
    this.name = 'HistoryError';
  }
}

const FIELDS = new Set(['process', 'type', 'f', 'key', 'value', 'time', 'node', 'error', 'revision']);

function isNat(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isScalar(x: unknown): boolean {
  return typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x));
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isWatchEvent = (x: unknown): boolean => Array.isArray(x) && x.length === 3 && isNat(x[0]) && typeof x[1] === 'string' && (x[2] === null || isScalar(x[2]));
const isAccountState = (x: unknown): boolean => Array.isArray(x) && x.length === 2 && isInt(x[0]) && isNat(x[1]);

/** Why `x` is not a bank transfer `{id, from, to, amount, expect}`, or undefined if it is. */
function transferProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return `transfer value must be {id, from, to, amount, expect}, got ${show(x)}`;
  const t = x as Record<string, unknown>;
  const extra = Object.keys(t).filter((k) => !['id', 'from', 'to', 'amount', 'expect'].includes(k));
  if (extra.length > 0) return `transfer value has unknown field${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`;
  if (!isNat(t['id']) || t['id'] === 0) return `transfer id must be a positive integer, got ${show(t['id'])}`;
  if (!isNat(t['from']) || !isNat(t['to']) || t['from'] === t['to']) return `transfer from and to must be two different account numbers, got ${show(t['from'])} and ${show(t['to'])}`;
  if (!isNat(t['amount']) || t['amount'] === 0) return `transfer amount must be a positive integer, got ${show(t['amount'])}`;
  const e = t['expect'];
  if (!Array.isArray(e) || e.length !== 2 || !e.every(isAccountState)) return `transfer expect must be [[balance, transfer], [balance, transfer]], got ${show(e)}`;
  return undefined;
}

function show(x: unknown): string {
  return JSON.stringify(x) ?? String(x);
}

/** Why `value` is not the shape `f`/`type` require, or undefined if it is. */
function valueProblem(f: string, type: string, value: unknown): string | undefined {
  switch (f) {
    case 'read':
      if (type === 'ok') {
        const ok =
          value === null ||
          isScalar(value) ||
          (Array.isArray(value) && (value.every(isScalar) || value.every((a) => a === null || isAccountState(a))));
        return ok ? undefined : `an ok read's value must be a value, null, a list of elements or a list of accounts, got ${show(value)}`;
      }
      return value === null ? undefined : `a read's ${type} value must be null, got ${show(value)}`;
    case 'write':
    case 'add':
      return isScalar(value) ? undefined : `${f} value must be a number or a string, got ${show(value)}`;
    case 'cas':
      return Array.isArray(value) && value.length === 2 && (value[0] === null || isScalar(value[0])) && isScalar(value[1])
        ? undefined
        : `cas value must be [expected, new] (expected may be null), got ${show(value)}`;
    case 'delete':
      return value === null ? undefined : `delete value must be null, got ${show(value)}`;
    case 'change':
      return value === null || isScalar(value) ? undefined : `change value must be a value or null (a delete), got ${show(value)}`;
    case 'watch':
      if (type === 'invoke') return isNat(value) ? undefined : `a watch's invoke value must be the revision it watches from, got ${show(value)}`;
      return Array.isArray(value) && value.every(isWatchEvent) ? undefined : `a watch's ${type} value must be the events it delivered, each [revision, key, value], got ${show(value)}`;
    case 'acquire':
      return value === null ? undefined : `acquire value must be null (an ok one carries the token as revision), got ${show(value)}`;
    case 'release':
      return isNat(value) ? undefined : `release value must be the token released, got ${show(value)}`;
    case 'fenced-write':
      return Array.isArray(value) && value.length === 2 && value.every(isNat) ? undefined : `fenced-write value must be [token, n], got ${show(value)}`;
    case 'init':
      return Array.isArray(value) && value.length > 0 && value.every(isNat) ? undefined : `init value must be the initial balances, got ${show(value)}`;
    case 'transfer':
      return transferProblem(value);
    default:
      return undefined;
  }
}

/**
 * Why `x` is not a well-shaped event, or undefined if it is. Checks one line on its own; the
 * sequence rules are `validateHistory`'s.
 */
export function opShapeProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return `an event must be a JSON object, got ${show(x)}`;
  const o = x as Record<string, unknown>;
  for (const k in o) {
    if (FIELDS.has(k)) continue;
    const extra = Object.keys(o).filter((f) => !FIELDS.has(f));
    return `unknown field${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`;
  }
  if (!isNat(o['process'])) return `process must be a non-negative integer, got ${show(o['process'])}`;
  if (!OP_TYPES.includes(o['type'] as never)) return `type must be one of ${OP_TYPES.join(', ')}, got ${show(o['type'])}`;
  if (!OP_FS.includes(o['f'] as never)) return `f must be one of ${OP_FS.join(', ')}, got ${show(o['f'])}`;
  if (typeof o['key'] !== 'string') return `key must be a string, got ${show(o['key'])}`;
  if (!('value' in o)) return 'value is missing (use null for none)';
  const vp = valueProblem(o['f'] as string, o['type'] as string, o['value']);
  if (vp !== undefined) return vp;
  if (!isNat(o['time'])) return `time must be a non-negative integer (nanoseconds), got ${show(o['time'])}`;
  if (o['node'] !== undefined && !isNat(o['node'])) return `node must be a node id, got ${show(o['node'])}`;
  if (o['revision'] !== undefined) {
    if (o['type'] !== 'ok') return `revision is only allowed on ok, not on ${o['type'] as string}`;
    if (!['change', 'acquire', 'fenced-write'].includes(o['f'] as string)) return `revision is only recorded for change, acquire and fenced-write, not for ${o['f'] as string}`;
    if (!isNat(o['revision'])) return `revision must be a non-negative integer, got ${show(o['revision'])}`;
  }
  if (o['error'] !== undefined) {
    if (o['type'] !== 'fail' && o['type'] !== 'info') return `error is only allowed on fail and info, not on ${o['type'] as string}`;
    const e = o['error'] as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || typeof e['code'] !== 'string' || typeof e['message'] !== 'string') {
      return `error must be {code, message} strings, got ${show(e)}`;
    }
  }
  return undefined;
}

function sameValue(a: OpValue, b: OpValue): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function describeEvent(op: Op): string {
  return `${op.f} ${show(op.key)}`;
}

/**
 * Every problem in `history`, in order; empty means well formed. Beyond each event's shape:
 * - a process has at most one operation outstanding, and its completion repeats the invoke's
 *   `f`, `key` and value (an ok read carries what it read, a watch's completion the events it
 *   delivered);
 * - every completion answers an outstanding invoke, so an invoke has at most one completion;
 * - a process never invokes again after an `info`;
 * - times never go backwards within a process.
 * An invoke left without completion at the end is allowed: the checkers treat it as `info`.
 */
export function validateHistory(history: readonly Op[]): HistoryProblem[] {
  const problems: HistoryProblem[] = [];
  const outstanding = new Map<number, { op: Op; line: number }>();
  const retired = new Map<number, number>(); // process -> line of its info
  const lastTime = new Map<number, number>();
  history.forEach((op, i) => {
    const line = i + 1;
    const shape = opShapeProblem(op);
    if (shape !== undefined) {
      problems.push({ line, message: shape });
      return;
    }
    const p = op.process;
    const report = (message: string): void => {
      problems.push({ line, process: p, message });
    };
    const before = lastTime.get(p);
    if (before !== undefined && op.time < before) report(`time ${op.time} is before this process's previous event (${before})`);
    lastTime.set(p, Math.max(op.time, before ?? 0));
    const open = outstanding.get(p);
    if (op.type === 'invoke') {
      const infoLine = retired.get(p);
      if (infoLine !== undefined) report(`invoked ${describeEvent(op)} after its info on line ${infoLine}; a process never invokes again after info`);
      if (open !== undefined) report(`invoked ${describeEvent(op)} while its ${describeEvent(open.op)} from line ${open.line} is outstanding`);
      outstanding.set(p, { op, line });
      return;
    }
    if (open === undefined) {
      report(`${op.type} ${describeEvent(op)} completes nothing: the process has no operation outstanding`);
      return;
    }
    outstanding.delete(p);
    if (op.f !== open.op.f || op.key !== open.op.key) {
      report(`${op.type} ${describeEvent(op)} does not match the outstanding ${describeEvent(open.op)} from line ${open.line}`);
    } else if (!(op.f === 'read' && op.type === 'ok') && op.f !== 'watch' && !sameValue(op.value, open.op.value)) {
      report(`${op.type} value ${show(op.value)} differs from the invoke's ${show(open.op.value)} on line ${open.line}`);
    }
    if (op.type === 'info') retired.set(p, line);
  });
  return problems;
}
