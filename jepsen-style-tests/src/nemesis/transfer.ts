/**
 * Leadership transfers under load: while the fault holds, every 1–2 s (from the fault's seed) the
 * leader is asked to hand over to a follower chosen from the seed. A transfer the cluster refuses
 * or that times out is reported in the progress output, not treated as a failure of the run: the
 * workload's history is what must stay linearizable.
 */
import { isKeelError } from '@keel/client';
import { roles, type Fault } from './fault.js';

const TRANSFER_EVERY_MS: readonly [number, number] = [1_000, 2_000];
const TRANSFER_TIMEOUT_MS = 10_000;

export const transfer: Fault = async (run) => {
  const started = Date.now();
  const targets: number[] = [];
  run.begin({ label: 'transfer', kind: 'transfer', nodes: [] });
  const client = run.cluster.client({ timeoutMs: TRANSFER_TIMEOUT_MS });
  try {
    while (!run.stopping && Date.now() - started < run.plan.holdMs) {
      const { leader, followers } = await roles(run.cluster);
      const to = run.rng.pick(followers).id;
      try {
        await client.transferLeader(to);
        targets.push(to);
      } catch (error) {
        if (!isKeelError(error)) throw error;
        run.log(`transfer n${leader.id} → n${to}: ${error.code}`);
      }
      await run.hold(Math.round(run.rng.between(...TRANSFER_EVERY_MS)));
    }
  } finally {
    await client.close();
  }
  run.end({ label: `transfer to ${targets.length === 0 ? 'nobody' : targets.map((id) => `n${id}`).join(', ')}`, nodes: [...new Set(targets)] });
};
