/**
 * A per-key linearizability checker for register histories (Wing & Gong's search with Lowe's
 * memoization, as in porcupine): is there a total order of the operations, consistent with their
 * real-time order, in which every answer is what a single register would have given?
 *
 * An operation whose outcome is unknown (`info`: a write that timed out) may take effect at any
 * time after its invocation, or never: it is given an infinite return time, so it may be placed
 * after every other operation (which is the same as never).
 */

/** The register's value: a string, or null when the key is absent. */
export type RegisterValue = string | null;

/**
 * One operation on the register. A write or delete answered with the entry it replaced carries
 * it as `prev` (absent when the answer did not say); `deleted`, `succeeded` likewise.
 */
export type RegisterOp =
  | { readonly f: 'write'; readonly value: string; readonly prev?: RegisterValue }
  | { readonly f: 'delete'; readonly deleted?: boolean; readonly prev?: RegisterValue }
  | { readonly f: 'cas'; readonly expect: RegisterValue; readonly value: string; readonly succeeded?: boolean }
  | { readonly f: 'read'; readonly value: RegisterValue };

/** One operation of the history of one key. `ret` is Infinity for an unknown outcome. */
export interface HistoryOp {
  readonly call: number;
  readonly ret: number;
  readonly op: RegisterOp;
  /** For messages: who did it. */
  readonly label: string;
}

/** The register after `op` from `state`, or undefined when `op`'s answer is impossible from `state`. */
function step(state: RegisterValue, op: RegisterOp): { next: RegisterValue } | undefined {
  switch (op.f) {
    case 'write':
      if (op.prev !== undefined && op.prev !== state) return undefined;
      return { next: op.value };
    case 'delete':
      if (op.deleted !== undefined && op.deleted !== (state !== null)) return undefined;
      if (op.prev !== undefined && op.prev !== state) return undefined;
      return { next: null };
    case 'cas': {
      const matches = state === op.expect;
      if (op.succeeded === undefined) return { next: matches ? op.value : state };
      if (op.succeeded !== matches) return undefined;
      return { next: matches ? op.value : state };
    }
    case 'read':
      return op.value === state ? { next: state } : undefined;
  }
}

export type CheckOutcome = { readonly ok: true; readonly explored: number } | { readonly ok: false; readonly explored: number } | { readonly ok: 'unknown'; readonly explored: number };

/**
 * Check one key's history, starting from `initial`. Gives up (`unknown`) after `budget`
 * search steps, so a pathological history cannot stall a sweep.
 */
export function checkRegister(history: readonly HistoryOp[], initial: RegisterValue = null, budget = 200_000): CheckOutcome {
  const n = history.length;
  if (n === 0) return { ok: true, explored: 0 };
  // Entries: a call and a return per operation, in time order (calls before returns at equal times).
  type Node = { readonly op: number; readonly isCall: boolean; readonly time: number; prev: Node | null; next: Node | null; match: Node | null };
  const events: Node[] = [];
  for (let i = 0; i < n; i++) {
    const h = history[i]!;
    const call: Node = { op: i, isCall: true, time: h.call, prev: null, next: null, match: null };
    const ret: Node = { op: i, isCall: false, time: h.ret, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Node = { op: -1, isCall: false, time: -Infinity, prev: null, next: null, match: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (call: Node): void => {
    call.prev!.next = call.next;
    if (call.next !== null) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next !== null) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next !== null) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next !== null) call.next.prev = call;
  };
  const linearized = new Uint8Array(n);
  const cache = new Set<string>();
  const stack: Array<{ call: Node; state: RegisterValue }> = [];
  let state: RegisterValue = initial;
  let entry = head.next;
  let explored = 0;
  while (head.next !== null) {
    if (++explored > budget) return { ok: 'unknown', explored };
    if (entry === null) return { ok: false, explored };
    if (entry.isCall) {
      const r = step(state, history[entry.op]!.op);
      if (r !== undefined) {
        linearized[entry.op] = 1;
        const key = `${r.next === null ? '\u0000' : r.next}|${bitsKey(linearized)}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ call: entry, state });
          state = r.next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op] = 0;
      }
      entry = entry.next;
    } else {
      // A return reached before its call was linearized: undo the last choice.
      const top = stack.pop();
      if (top === undefined) return { ok: false, explored };
      state = top.state;
      linearized[top.call.op] = 0;
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { ok: true, explored };
}

function bitsKey(bits: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bits.length; i += 16) {
    let word = 0;
    for (let j = 0; j < 16 && i + j < bits.length; j++) word |= bits[i + j]! << j;
    out += String.fromCharCode(word + 1);
  }
  return out;
}
