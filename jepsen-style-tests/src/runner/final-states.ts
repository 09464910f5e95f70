/**
 * The convergence check's input: once the cluster is healed and quiet, each member's applied
 * index and digest (`KeelClient.digest`). Nodes may still be applying the last entries, so the
 * runner asks again until every member reports the same applied index (then the digests must be
 * equal), or until the wait runs out and the checker judges what it got.
 */
import { KeelClient } from '@keel/client';
import type { Cluster } from '@keel/test-support';
import type { NodeReport } from '../checker/convergence.js';

export const CONVERGENCE_WAIT_MS = 30_000;
const POLL_MS = 200;
const DIGEST_TIMEOUT_MS = 5_000;

export async function finalStates(cluster: Cluster, waitMs = CONVERGENCE_WAIT_MS): Promise<NodeReport[]> {
  const client = new KeelClient({ endpoints: cluster.endpoints, timeoutMs: DIGEST_TIMEOUT_MS });
  const until = Date.now() + waitMs;
  try {
    for (;;) {
      const members = [...cluster.members].sort((a, b) => a.id - b.id);
      const reports = await Promise.all(
        members.map(async (n): Promise<NodeReport> => {
          try {
            const { applied, digest } = await client.digest(n.clientAddress);
            return { node: n.id, applied, digest };
          } catch (error) {
            return { node: n.id, error: String(error) };
          }
        }),
      );
      const applied = new Set(reports.map((r) => ('error' in r ? -1 : r.applied)));
      if ((applied.size === 1 && !applied.has(-1)) || Date.now() > until) return reports;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await client.close();
  }
}
