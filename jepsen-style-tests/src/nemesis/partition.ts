/**
 * Partition faults. Each chooses its cuts from the fault's seed and the roles at the time, cuts
 * the links in the plan's mode, and records the nodes left without a majority as the interval's
 * `minority`. The hold counts from when the majority side has a leader, so every partition sees
 * a new leader serving while the nodes cut off may still believe in the old one.
 */
import { bridge, isolationCuts, majorityMinority, partitionCuts, type Cluster, type Link } from '@keel/test-support';
import type { Rng } from '../rng.js';
import { majoritySize, minorityOf, oneWayCuts, ringCuts } from './grudge.js';
import { roles, type Fault, type FaultRun } from './fault.js';

/** How long to wait for the majority side to agree on a leader before the hold counts anyway. */
const MAJORITY_LEADER_WAIT_MS = 15_000;
const POLL_MS = 100;

interface Cuts {
  /** What was cut, for the label: `n3`, `[1 2] | [3]`. */
  readonly what: string;
  readonly cuts: readonly Link[];
  /** The nodes the fault acted on. */
  readonly nodes: readonly number[];
}

type Choose = (rng: Rng, voters: readonly number[], leader: number, followers: readonly number[]) => Cuts;

const group = (ids: readonly number[]): string => `[${[...ids].sort((a, b) => a - b).join(' ')}]`;

function partition(name: string, choose: Choose): Fault {
  return async (run) => {
    const { leader, followers } = await roles(run.cluster);
    const followerIds = followers.map((n) => n.id);
    const voters = [leader.id, ...followerIds].sort((a, b) => a - b);
    const { what, cuts, nodes } = choose(run.rng, voters, leader.id, followerIds);
    for (const [from, to] of cuts) run.cluster.cut(from, to, run.plan.mode);
    const minority = minorityOf(cuts, voters);
    run.begin({ label: `${name} ${what} (${run.plan.mode})`, kind: 'partition', nodes, minority });
    const majority = voters.filter((id) => !minority.includes(id));
    if (majority.length > 0 && !(await majorityHasLeader(run, majority, voters.length)) && !run.stopping) {
      run.log(`${name}: the majority side ${group(majority)} had no leader after ${MAJORITY_LEADER_WAIT_MS / 1000} s`);
    }
    await run.hold(run.plan.holdMs);
    run.end();
    run.cluster.heal();
  };
}

/** Waits until a node of `side` leads and a majority of the voters name it (false after the wait, or when the run ends). */
async function majorityHasLeader(run: FaultRun, side: readonly number[], voters: number): Promise<boolean> {
  const until = Date.now() + MAJORITY_LEADER_WAIT_MS;
  while (Date.now() < until && !run.stopping) {
    if (await agreedLeader(run.cluster, side, majoritySize(voters))) return true;
    await run.hold(POLL_MS);
  }
  return false;
}

async function agreedLeader(cluster: Cluster, side: readonly number[], quorum: number): Promise<boolean> {
  const statuses = (await cluster.statuses()).filter((r) => side.includes(r.id));
  const leader = statuses.find((r) => r.status?.role === 'leader')?.id;
  return leader !== undefined && statuses.filter((r) => r.status?.leader === leader).length >= quorum;
}

export const partitionFaults = {
  'isolate-follower': partition('isolate-follower', (rng, voters, _leader, followers) => {
    const f = rng.pick(followers);
    return { what: `n${f}`, cuts: isolationCuts(f, voters), nodes: [f] };
  }),
  'isolate-leader': partition('isolate-leader', (_rng, voters, leader) => ({
    what: `n${leader}`,
    cuts: isolationCuts(leader, voters),
    nodes: [leader],
  })),
  'majority-split': partition('majority-split', (rng, voters) => {
    const groups = majorityMinority(rng.shuffle(voters));
    return { what: groups.map(group).join(' | '), cuts: partitionCuts(groups, voters), nodes: groups[1]! };
  }),
  bridge: partition('bridge', (rng, voters) => {
    const groups = bridge(rng.shuffle(voters));
    const shared = groups[0]!.filter((id) => groups[1]!.includes(id));
    return { what: `${groups.map(group).join(' ')} via n${shared.join(',')}`, cuts: partitionCuts(groups, voters), nodes: voters };
  }),
  ring: partition('ring', (rng, voters) => {
    const order = rng.shuffle(voters);
    const oneWay = voters.length < 5 ? ', one-way' : '';
    return { what: `${order.join('-')}-${order[0]}${oneWay}`, cuts: ringCuts(order), nodes: voters };
  }),
  asymmetric: partition('asymmetric', (rng, voters, leader, followers) => {
    const target = rng.chance(0.5) ? leader : rng.pick(followers);
    const direction = rng.chance(0.5) ? 'outbound' : 'inbound';
    const what = `n${target}${target === leader ? ' (leader)' : ''} ${direction === 'outbound' ? 'sends' : 'receives'} nothing`;
    return { what, cuts: oneWayCuts(target, voters, direction), nodes: [target] };
  }),
} satisfies Record<string, Fault>;
