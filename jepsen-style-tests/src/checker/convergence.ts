import type { Verdict } from './verdict.js';

/**
 * Convergence: after healing, every node must reach the same applied index and the same
 * key-value content, compared by a digest of the content. The runner waits for the cluster to
 * quiesce, then asks each node; a node that cannot answer is reported with the error instead.
 */

export interface NodeFinalState {
  readonly node: number;
  readonly applied: number;
  readonly digest: string;
}

export interface NodeUnreachable {
  readonly node: number;
  readonly error: string;
}

export type NodeReport = NodeFinalState | NodeUnreachable;

export interface ConvergenceResult {
  /** valid: all nodes answered, all equal; invalid: two answers differ; unknown: otherwise. */
  readonly verdict: Verdict;
  /** Distinct final states, the most common first, with the nodes that reached each. */
  readonly groups: readonly { readonly applied: number; readonly digest: string; readonly nodes: readonly number[] }[];
  /** Nodes outside the most common state. */
  readonly differ: readonly number[];
  readonly unreachable: readonly NodeUnreachable[];
  readonly summary: string;
}

export function checkConvergence(reports: readonly NodeReport[]): ConvergenceResult {
  const unreachable = reports.filter((r): r is NodeUnreachable => 'error' in r);
  const states = reports.filter((r): r is NodeFinalState => !('error' in r));
  const groups = new Map<string, { applied: number; digest: string; nodes: number[] }>();
  for (const s of states) {
    const id = `${s.applied}/${s.digest}`;
    const g = groups.get(id);
    if (g === undefined) groups.set(id, { applied: s.applied, digest: s.digest, nodes: [s.node] });
    else g.nodes.push(s.node);
  }
  const sorted = [...groups.values()].sort((a, b) => b.nodes.length - a.nodes.length || b.applied - a.applied);
  for (const g of sorted) g.nodes.sort((a, b) => a - b);
  const differ = sorted.slice(1).flatMap((g) => g.nodes).sort((a, b) => a - b);
  const describe = (g: { applied: number; digest: string; nodes: number[] }): string =>
    `node${g.nodes.length > 1 ? 's' : ''} ${g.nodes.join(', ')} at applied index ${g.applied}, digest ${g.digest.slice(0, 12)}`;
  const lost = unreachable.length > 0 ? `; no answer from node${unreachable.length > 1 ? 's' : ''} ${unreachable.map((u) => u.node).join(', ')}` : '';
  let verdict: Verdict;
  let summary: string;
  if (sorted.length > 1) {
    verdict = 'invalid';
    summary = `nodes disagree: ${sorted.map(describe).join('; ')}${lost}`;
  } else if (sorted.length === 0) {
    verdict = 'unknown';
    summary = `no node reported its final state${lost}`;
  } else if (unreachable.length > 0) {
    verdict = 'unknown';
    summary = `${describe(sorted[0]!)}${lost}`;
  } else {
    verdict = 'valid';
    summary = `all ${states.length} nodes at applied index ${sorted[0]!.applied}, digest ${sorted[0]!.digest.slice(0, 12)}`;
  }
  return { verdict, groups: sorted, differ, unreachable, summary };
}
