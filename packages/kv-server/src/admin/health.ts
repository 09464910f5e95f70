/**
 * The two probes Kubernetes (and load balancers) distinguish:
 *
 * - health (liveness): the process runs and can write to its store. Writability is probed for
 *   real, cheaply: a small file in the data directory is rewritten and fsynced (`WriteProbe`), at
 *   most once a second however often the probe is asked; a failed or hung write is unhealthy.
 *   Restarting an unhealthy node may help; restarting an unready one does not.
 * - readiness: the node can serve linearizable requests soon: it knows a leader, and it has
 *   applied what it knows to be committed, within `applyLagMax` entries.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeStatus } from '@keel/protocol';

/** The file the write probe rewrites, inside the data directory. */
export const HEALTH_PROBE_FILE = 'health-probe';
/** A probe result younger than this is reused. */
const PROBE_REUSE_MS = 1_000;
/** A probe write that takes longer than this counts as failed (a stalled disk). */
export const PROBE_TIMEOUT_MS = 5_000;

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Rewrites and fsyncs `<dir>/health-probe`; concurrent and recent checks share one write. */
export class WriteProbe {
  private last: { readonly at: number; readonly verdict: Verdict } | undefined;
  private running: Promise<Verdict> | undefined;

  constructor(private readonly dir: string) {}

  check(): Promise<Verdict> {
    const now = performance.now();
    if (this.last !== undefined && now - this.last.at < PROBE_REUSE_MS) return Promise.resolve(this.last.verdict);
    this.running ??= this.probe().then((verdict) => {
      this.last = { at: performance.now(), verdict };
      this.running = undefined;
      return verdict;
    });
    return this.running;
  }

  private async probe(): Promise<Verdict> {
    const path = join(this.dir, HEALTH_PROBE_FILE);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Verdict>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `writing ${path} took longer than ${PROBE_TIMEOUT_MS} ms` }), PROBE_TIMEOUT_MS);
    });
    const write = (async (): Promise<Verdict> => {
      const file = await open(path, 'w');
      try {
        await file.writeFile(`${new Date().toISOString()}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      return { ok: true };
    })().catch((error: unknown): Verdict => ({ ok: false, reason: `cannot write to the data directory: ${(error as Error).message}` }));
    try {
      return await Promise.race([write, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Readiness and the fields that explain it. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not, in words; absent when ready. */
  readonly reason?: string;
  readonly role: NodeStatus['role'];
  readonly term: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
}

/** Ready when a leader is known and applied trails commit by at most `applyLagMax` entries. */
export function readiness(status: NodeStatus, applyLagMax: number): Readiness {
  const fields = { role: status.role, term: status.term, leader: status.leader, commit: status.commit, applied: status.applied };
  if (status.leader === 0) {
    return { ready: false, reason: `no leader known (this node is ${status.role} in term ${status.term}: cut off from the majority, or an election is under way)`, ...fields };
  }
  const lag = status.commit - status.applied;
  if (lag > applyLagMax) {
    return { ready: false, reason: `applied index ${status.applied} is ${lag} entries behind the commit index ${status.commit} (more than ${applyLagMax})`, ...fields };
  }
  return { ready: true, ...fields };
}
