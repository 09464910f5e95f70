/**
 * Process faults: kill -9 and restart on the same data, SIGSTOP and SIGCONT. Victims are chosen
 * from the fault's seed among the running voters, by role where the name says so.
 */
import type { ClusterNode } from '@keel/test-support';
import type { Rng } from '../rng.js';
import { majoritySize } from './grudge.js';
import { roles, type Fault } from './fault.js';

type Choose = (rng: Rng, leader: ClusterNode, followers: readonly ClusterNode[]) => ClusterNode[];

const ids = (nodes: readonly ClusterNode[]): string => nodes.map((n) => `n${n.id}`).join(' ');

function kill(name: string, choose: Choose): Fault {
  return async (run) => {
    const { leader, followers } = await roles(run.cluster);
    const victims = choose(run.rng, leader, followers).sort((a, b) => a.id - b.id);
    await Promise.all(victims.map((n) => n.kill()));
    run.begin({ label: `${name} ${ids(victims)}`, kind: 'kill', nodes: victims.map((n) => n.id) });
    await run.hold(run.plan.holdMs);
    run.end();
    await Promise.all(victims.map((n) => n.start()));
  };
}

function pause(name: string, choose: Choose): Fault {
  return async (run) => {
    const { leader, followers } = await roles(run.cluster);
    const victims = choose(run.rng, leader, followers);
    for (const n of victims) n.pause();
    run.begin({ label: `${name} ${ids(victims)}`, kind: 'pause', nodes: victims.map((n) => n.id) });
    await run.hold(run.plan.holdMs);
    run.end();
    for (const n of victims) n.resume();
  };
}

const all = (leader: ClusterNode, followers: readonly ClusterNode[]): ClusterNode[] => [leader, ...followers];

export const processFaults = {
  'kill-one': kill('kill-one', (rng, leader, followers) => [rng.pick(all(leader, followers))]),
  'kill-leader': kill('kill-leader', (_rng, leader) => [leader]),
  'kill-majority': kill('kill-majority', (rng, leader, followers) => {
    const voters = all(leader, followers);
    return rng.shuffle(voters).slice(0, majoritySize(voters.length));
  }),
  'kill-all': kill('kill-all', (_rng, leader, followers) => all(leader, followers)),
  'pause-leader': pause('pause-leader', (_rng, leader) => [leader]),
  'pause-follower': pause('pause-follower', (rng, _leader, followers) => [rng.pick(followers)]),
} satisfies Record<string, Fault>;
