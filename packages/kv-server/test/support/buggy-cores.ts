/**
 * Deliberately broken node cores for the server simulator's injected-bug tests. Each overrides
 * one test seam of `NodeCore` with a real mistake a server could make.
 */
import type { CoreFactory } from '../../src/testing/index.js';
import { NodeCore } from '../../src/node/node-core.js';
import type { Command } from '../../src/state-machine/commands.js';

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
      command.op === 'put' ? { revision } : command.op === 'delete' ? { revision, deleted: true } : { revision, succeeded: true };
    return Promise.resolve(result as Awaited<ReturnType<NodeCore['write']>>);
  }
}

/** BUG: a linearizable read is served once its read index is known, without waiting to apply it. */
class ServesReadsBeforeApplied extends NodeCore {
  protected override readableIndex(): number {
    return Number.MAX_SAFE_INTEGER;
  }
}

export const BUGGY_CORES = {
  answersWritesAtAppend: ((config, raw, ports) => new AnswersWritesAtAppend(config, raw, ports)) satisfies CoreFactory,
  servesReadsBeforeApplied: ((config, raw, ports) => new ServesReadsBeforeApplied(config, raw, ports)) satisfies CoreFactory,
} as const;
