/**
 * Membership changes under load, through the harness (each change through `@keel/client`, as an
 * operator would). One fault is one of, drawn from its seed:
 *
 * - remove and add: remove a voter (the leader one time in three), stop it, hold, then add a new
 *   node as a learner and promote it;
 * - replace: add a new node as a learner, hold while it catches up under load, promote it, then
 *   remove a voter (the leader one time in three) and stop it.
 *
 * Either way the cluster ends with as many voters as it began with, every one of them running;
 * the removed node's process is stopped and its id is never reused. The interval covers the whole
 * sequence of changes.
 */
import type { ClusterNode } from '@keel/test-support';
import { roles, type Fault, type FaultRun } from './fault.js';

async function victim(run: FaultRun): Promise<{ node: ClusterNode; role: string }> {
  const { leader, followers } = await roles(run.cluster);
  const leaderGoes = run.rng.chance(1 / 3);
  const follower = run.rng.pick(followers);
  return leaderGoes ? { node: leader, role: 'leader' } : { node: follower, role: 'follower' };
}

async function removeAndStop(run: FaultRun, node: ClusterNode): Promise<void> {
  await run.cluster.removeMember(node.id);
  run.membershipChanged();
  await node.stop();
}

async function addLearner(run: FaultRun): Promise<ClusterNode> {
  const fresh = await run.cluster.startJoiner();
  await run.cluster.addLearner(fresh.id);
  return fresh;
}

async function promote(run: FaultRun, node: ClusterNode): Promise<void> {
  await run.cluster.promote(node.id);
  run.membershipChanged();
}

export const membership: Fault = async (run) => {
  if (run.rng.chance(0.5)) {
    const { node: gone, role } = await victim(run);
    run.begin({ label: `membership: remove n${gone.id} (${role})`, kind: 'membership', nodes: [gone.id] });
    await removeAndStop(run, gone);
    await run.hold(run.plan.holdMs);
    const fresh = await addLearner(run);
    await promote(run, fresh);
    run.end({ label: `membership: remove n${gone.id} (${role}), add n${fresh.id}`, nodes: [gone.id, fresh.id] });
  } else {
    run.begin({ label: 'membership: replace', kind: 'membership', nodes: [] });
    const fresh = await addLearner(run);
    await run.hold(run.plan.holdMs);
    await promote(run, fresh);
    const { node: gone, role } = await victim(run);
    await removeAndStop(run, gone);
    run.end({ label: `membership: replace n${gone.id} (${role}) by n${fresh.id}`, nodes: [gone.id, fresh.id] });
  }
};
