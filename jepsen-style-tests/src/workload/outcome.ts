/**
 * From a client call to a completion, the Jepsen way: an answer is `ok` (or a definite "no", as a
 * cas that did not swap), a `KeelError` with `definite: true` is `fail` (it certainly did not take
 * effect), anything else is `info` (it may take effect at any later time, or never) and retires
 * the logical client. Anything that is not a `KeelError` is a bug of the runner and propagates.
 */
import { isKeelError } from '@keel/client';
import type { OpValue, Scalar } from '../history/op.js';
import type { Completion } from './recorder.js';

/** Runs `call`; its result becomes the completion, a KeelError a fail or info with `failed` as value. */
export async function outcome(call: () => Promise<Completion>, failed: OpValue): Promise<Completion> {
  try {
    return await call();
  } catch (error) {
    if (!isKeelError(error)) throw error;
    return { type: error.definite ? 'fail' : 'info', value: failed, error: { code: error.code, message: error.message } };
  }
}

/** Values travel as decimal text; the history holds them as numbers. */
export const encodeValue = (v: Scalar): string => String(v);

/** The text of a stored value as the history's value: an integer when it is one, else the text itself. */
export function decodeValue(text: string): Scalar {
  return /^-?\d{1,15}$/.test(text) ? Number(text) : text;
}
