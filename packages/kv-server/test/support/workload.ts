import type { ClientResponse } from '@keel/protocol';

/**
 * Run `count` operations with at most `window` in flight; `op(i)` starts operation i. Resolves
 * with every response in index order. Stops starting new operations once `stop()` says so.
 */
export async function pipelined(
  count: number,
  window: number,
  op: (i: number) => Promise<ClientResponse>,
  stop: () => boolean = () => false,
): Promise<Array<ClientResponse | undefined>> {
  const out: Array<ClientResponse | undefined> = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && !stop()) {
      const i = next++;
      out[i] = await op(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, () => worker()));
  return out;
}

export const key = (i: number): string => `key-${String(i).padStart(6, '0')}`;
export const value = (i: number): string => `value-${i}-${'x'.repeat(i % 50)}`;
