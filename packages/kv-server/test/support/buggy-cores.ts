/**
 * Deliberately broken node cores for the server simulator's injected-bug tests. Each overrides
 * one test seam of `NodeCore` (or, for the state machine, of the store the core is given) with a
 * real mistake a server could make.
 */
import type { CoreFactory } from '../../src/testing/index.js';
import { NodeCore } from '../../src/node/node-core.js';
import type { Command } from '../../src/state-machine/commands.js';
import { StateMachine, type RangeReader } from '../../src/state-machine/state-machine.js';
import type { StateStore } from '../../src/storage/state-store.js';

type WriteResult = Awaited<ReturnType<NodeCore['handle']>>;

/** BUG: a write is answered as soon as the leader appended it, before it committed and applied. */
class AnswersWritesAtAppend extends NodeCore {
  protected override write(command: Command): ReturnType<NodeCore['write']> {
    const before = this.status().lastIndex;
    const real = super.write(command);
    const after = this.status();
    if (after.lastIndex !== before + 1) return real;
    real.catch(() => undefined);
    const revision = after.lastIndex;
    const result: WriteResult =
      command.op === 'put'
        ? { revision }
        : command.op === 'delete'
          ? { revision, deleted: true }
          : command.op === 'deleteRange'
            ? { revision, deleted: 0 }
            : { revision, succeeded: true };
    return Promise.resolve(result as Awaited<ReturnType<NodeCore['write']>>);
  }
}

/** BUG: a linearizable read is served once its read index is known, without waiting to apply it. */
class ServesReadsBeforeApplied extends NodeCore {
  protected override readableIndex(): number {
    return Number.MAX_SAFE_INTEGER;
  }
}

/** A store that holds no rows: what a range delete reads when it forgets the store. */
const NOTHING_STORED: RangeReader = {
  iterator: () => ({ nextv: () => Promise.resolve([]), close: () => Promise.resolve() }),
};

/**
 * BUG: a range delete sees only the keys its own apply batch wrote, not the rows already stored
 * (it forgets to read the store). Every replica runs the same code, but batches differ from node
 * to node, so the replicas' answers and states diverge. The store's state machine (a private
 * field, replaced when a snapshot is swapped in) gets the broken `execute` before each apply.
 */
function rangeDeletesIgnoreTheStore(state: StateStore): void {
  const apply = state.apply.bind(state);
  state.apply = (entries, computed) => {
    const sm = (state as unknown as { sm: StateMachine }).sm;
    sm.execute = (prepared, current, writer) => StateMachine.prototype.execute.call(sm, prepared, current, writer, NOTHING_STORED);
    return apply(entries, computed);
  };
}

export const BUGGY_CORES = {
  rangeDeletesIgnoreTheStore: ((config, raw, ports) => {
    rangeDeletesIgnoreTheStore(ports.state as StateStore);
    return new NodeCore(config, raw, ports);
  }) satisfies CoreFactory,
  answersWritesAtAppend: ((config, raw, ports) => new AnswersWritesAtAppend(config, raw, ports)) satisfies CoreFactory,
  servesReadsBeforeApplied: ((config, raw, ports) => new ServesReadsBeforeApplied(config, raw, ports)) satisfies CoreFactory,
} as const;
