/**
 * Issue 9 item 0, end to end on real processes: after a partition that dropped packets (iptables
 * DROP), the peer connections stayed open and the kernel's retransmission backoff kept an
 * isolated follower cut off for 25–94 s after the heal, although any new connection worked at
 * once. The harness models that as the application sees it (`ProxyNetwork({ afterHeal: 'stall' })`):
 * every connection that was blackholed stays silent both ways for good, and only connections
 * dialled after the heal carry traffic. A follower isolated again and again under write load
 * must catch up after each heal, which it can only do if the transport notices the silent links
 * and redials (peer liveness, `transport/liveness.ts`). With the liveness timeout made an hour
 * long the follower never caught up (see the commit that added this test).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeelClient } from '@keel/client';
import { Cluster, ProxyNetwork } from '@keel/test-support';
import { wireClient } from './support/wire-client.js';
import { key, value } from './support/workload.js';

const ROUNDS = 3;
/** Entries the majority commits while the follower is cut off, each round. */
const MISSED_ENTRIES = 100;
/** Writes in flight at once. */
const WRITE_WINDOW = 8;
/** Pause after a failed write before the next, so that a load that only fails does not spin. */
const WRITE_RETRY_MS = 20;
/** Bound on each wait below: a failure, never a measure of speed. */
const DEADLINE_MS = 60_000;
/** Room for every wait of the test to run to its deadline, so that a failure is always one of them, saying what did not happen. */
const TEST_TIMEOUT_MS = (2 * ROUNDS + 2) * DEADLINE_MS;

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Polls `probe` until it answers a value (not undefined); fails after DEADLINE_MS, saying what it waited for. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, seen: () => string): Promise<T> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined) return answer;
    if (Date.now() > end) throw new Error(`${what}: not within ${DEADLINE_MS} ms (${seen()})\n${cluster!.tail()}`);
    await sleep(50);
  }
}

/** Writes through `client` until `stopped()`, WRITE_WINDOW at a time; resolves with the last acknowledged write's index. */
async function writeLoad(client: KeelClient, stopped: () => boolean): Promise<number> {
  let next = 0;
  let lastAcked = -1;
  const worker = async (): Promise<void> => {
    while (!stopped()) {
      const i = next++;
      try {
        await client.put(key(i), value(i));
        lastAcked = Math.max(lastAcked, i);
      } catch {
        // A write may fail while the cluster changes; the test is about the follower, not these.
        await sleep(WRITE_RETRY_MS);
      }
    }
  };
  await Promise.all(Array.from({ length: WRITE_WINDOW }, () => worker()));
  return lastAcked;
}

describe('a follower isolated repeatedly while its old connections stay silent after each heal', () => {
  it('catches up with the leader after every heal (links are redialled, not waited on)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const network = new ProxyNetwork({ afterHeal: 'stall' });
    cluster = await Cluster.start({ network });
    const c = cluster;
    const { id: leader } = await c.waitForLeader();
    const follower = c.ids.find((id) => id !== leader)!;
    const others = c.ids.filter((id) => id !== follower);

    let last = '';
    const applied = async (): Promise<Map<number, number>> => {
      const reports = await c.statuses();
      last = reports.map((r) => (r.status === undefined ? `${r.id}: ${r.error}` : `${r.id}: ${r.status.role} commit ${r.status.commit} applied ${r.status.applied}`)).join('; ');
      return new Map(reports.flatMap((r) => (r.status === undefined ? [] : [[r.id, r.status.applied] as const])));
    };
    const majorityApplied = (m: Map<number, number>): number => Math.max(...others.map((id) => m.get(id) ?? 0));

    let stopped = false;
    const load = writeLoad(c.client(), () => stopped);
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const before = (await applied()).get(follower)!;
        c.isolate(follower);
        await until(`round ${round}: the majority commits ${MISSED_ENTRIES} entries without node ${follower}`, async () => {
          const m = await applied();
          return majorityApplied(m) >= before + MISSED_ENTRIES && (m.get(follower) ?? 0) < majorityApplied(m) ? true : undefined;
        }, () => last);
        c.heal();
        const target = majorityApplied(await applied());
        await until(`round ${round}: node ${follower} applies index ${target} after the heal`, async () => {
          const m = await applied();
          return (m.get(follower) ?? 0) >= target ? true : undefined;
        }, () => last);
      }
    } finally {
      stopped = true;
    }
    const lastAcked = await load;
    expect(lastAcked).toBeGreaterThan(ROUNDS * MISSED_ENTRIES);

    // With the load stopped, the follower reaches the leader's applied index and has its last write.
    const target = majorityApplied(await applied());
    await until(`node ${follower} applies index ${target}`, async () => ((await applied()).get(follower)! >= target ? true : undefined), () => last);
    const f = await wireClient(c, follower);
    expect(await f.get(key(lastAcked), 'serializable')).toBe(value(lastAcked));
  });
});
