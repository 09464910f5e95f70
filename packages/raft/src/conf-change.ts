import type { ConfChange, ConfState, NodeId } from './types.js';

/** Why a membership change cannot be applied to a configuration. */
export type ConfChangeProblem = 'invalidConfChange';

/** The `ConfChange.type` values. */
export const CHANGE_TYPES: ReadonlySet<string> = new Set(['addVoter', 'addLearner', 'removeNode']);

/**
 * The configuration that results from applying one single-server `change` to `conf`
 * (Raft thesis §4.1), or `'invalidConfChange'` for a change that makes no sense: adding an
 * existing voter, adding an existing member as a learner, removing a non-member, removing the
 * last voter, or a malformed change (including a `context` that is not a `Uint8Array`).
 * `addVoter` of a learner promotes it.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState | ConfChangeProblem {
  if (change === null || typeof change !== 'object' || !CHANGE_TYPES.has(change.type)) return 'invalidConfChange';
  const id: NodeId = change.nodeId;
  if (!Number.isInteger(id) || id < 1) return 'invalidConfChange';
  // Peers drop entries whose context is not bytes, and entry sizes read its byteLength.
  if (change.context !== undefined && !(change.context instanceof Uint8Array)) return 'invalidConfChange';
  const isVoter = conf.voters.includes(id);
  const isLearner = conf.learners.includes(id);
  switch (change.type) {
    case 'addVoter':
      if (isVoter) return 'invalidConfChange';
      return { voters: [...conf.voters, id], learners: conf.learners.filter((l) => l !== id) };
    case 'addLearner':
      if (isVoter || isLearner) return 'invalidConfChange';
      return { voters: [...conf.voters], learners: [...conf.learners, id] };
    case 'removeNode':
      if (!isVoter && !isLearner) return 'invalidConfChange';
      if (isVoter && conf.voters.length === 1) return 'invalidConfChange';
      return { voters: conf.voters.filter((v) => v !== id), learners: conf.learners.filter((l) => l !== id) };
  }
}
