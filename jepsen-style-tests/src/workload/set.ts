/**
 * The set workload: every logical client adds elements unique across the run, each as its own key
 * under one prefix (`set/17` holding `17`); once the cluster is healed and quiet, one final read
 * scans the prefix. The set checker then finds acknowledged adds that are missing (lost) and
 * elements nobody added (phantom).
 */
import type { Consistency, KeelClient } from '@keel/client';
import type { Scalar } from '../history/op.js';
import { decodeValue, encodeValue, outcome } from './outcome.js';
import type { Completion, Invocation } from './recorder.js';
import type { Workload } from './workload.js';

export const SET_PREFIX = 'set/';
/** Entries per page of the final scan. */
const SCAN_PAGE = 1000;

export class SetWorkload implements Workload {
  readonly name = 'set';
  readonly setup: readonly Invocation[] = [];
  readonly final: readonly Invocation[] = [{ f: 'read', key: SET_PREFIX, value: null }];
  private nextElement = 1;

  next(): Invocation {
    const element = this.nextElement++;
    return { f: 'add', key: `${SET_PREFIX}${element}`, value: element };
  }

  observe(): void {}

  execute(client: KeelClient, call: Invocation, consistency: Consistency): Promise<Completion> {
    switch (call.f) {
      case 'add':
        return outcome(async () => {
          await client.put(call.key, encodeValue(call.value as Scalar));
          return { type: 'ok', value: call.value };
        }, call.value);
      case 'read':
        return outcome(async () => {
          const elements: Scalar[] = [];
          for await (const e of client.scanAll({ prefix: call.key }, { pageSize: SCAN_PAGE, consistency })) {
            elements.push(decodeValue(e.keyText.slice(call.key.length)));
          }
          return { type: 'ok', value: elements };
        }, null);
      default:
        throw new TypeError(`the set workload has no ${call.f} operation`);
    }
  }
}
