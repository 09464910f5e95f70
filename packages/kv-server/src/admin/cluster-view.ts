/**
 * The cluster as the dashboard shows it, gathered by the node that serves the page: for every
 * member, its status asked over its client port (so a member without an admin listener still
 * shows), whether this node's Raft connection to it is up, and — from the member's own admin
 * listener, when its status names one — its last minutes of samples. The page talks only to the
 * node that served it, so one reachable admin port (a port-forward, say) shows the whole cluster.
 *
 * Answers are cached for a moment: many open pages cost the members one round of requests.
 */
import type { Member, NodeStatus } from '@keel/protocol';
import type { NodeId } from '@keel/raft';
import type { Sample } from './history.js';
import { fetchStatus } from './status-probe.js';

/** One member as the dashboard shows it. */
export interface MemberView {
  readonly id: NodeId;
  readonly role: Member['role'];
  readonly peerAddress: string;
  readonly clientAddress: string;
  readonly adminAddress: string | null;
  /** It answered this node's status request. */
  readonly reachable: boolean;
  /** This node's Raft connection to it is up; null for the node itself. */
  readonly raftLink: boolean | null;
  readonly status: NodeStatus | null;
  /** Why there is no status, or no samples. */
  readonly error: string | null;
  readonly history: readonly Sample[];
}

export interface ClusterView {
  /** The node that gathered the view. */
  readonly self: NodeId;
  readonly clusterId: string;
  /** When it was gathered, ms since the epoch. */
  readonly at: number;
  /** The leader named by the answer with the highest term, 0 when none is known. */
  readonly leader: NodeId;
  readonly members: readonly MemberView[];
}

/** What the view needs of the local node. */
export interface ClusterViewSource {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  members(): readonly Member[];
  status(): NodeStatus;
  history(): readonly Sample[];
  raftLink(id: NodeId): boolean;
}

/** How long a member may take to answer, per request. */
const MEMBER_TIMEOUT_MS = 1_000;
/** A view younger than this is served again. */
const VIEW_REUSE_MS = 500;

export class ClusterViewer {
  private cached: { readonly at: number; readonly view: Promise<ClusterView> } | undefined;

  constructor(private readonly source: ClusterViewSource) {}

  view(): Promise<ClusterView> {
    const now = performance.now();
    if (this.cached === undefined || now - this.cached.at >= VIEW_REUSE_MS) this.cached = { at: now, view: this.gather() };
    return this.cached.view;
  }

  private async gather(): Promise<ClusterView> {
    const s = this.source;
    const members = await Promise.all([...s.members()].sort((a, b) => a.id - b.id).map((m) => this.member(m)));
    let leader: NodeId = 0;
    let term = -1;
    for (const m of members) {
      if (m.status !== null && m.status.term > term) {
        term = m.status.term;
        leader = m.status.leader;
      }
    }
    return { self: s.nodeId, clusterId: s.clusterId, at: Date.now(), leader, members };
  }

  private async member(m: Member): Promise<MemberView> {
    const base = { id: m.id, role: m.role, peerAddress: m.peerAddress, clientAddress: m.clientAddress };
    if (m.id === this.source.nodeId) {
      const status = this.source.status();
      return { ...base, adminAddress: status.adminAddress ?? null, reachable: true, raftLink: null, status, error: null, history: this.source.history() };
    }
    const raftLink = this.source.raftLink(m.id);
    let status: NodeStatus;
    try {
      status = await fetchStatus(m.clientAddress, MEMBER_TIMEOUT_MS);
    } catch (error) {
      return { ...base, adminAddress: null, reachable: false, raftLink, status: null, error: (error as Error).message, history: [] };
    }
    const adminAddress = status.adminAddress ?? null;
    if (adminAddress === null) return { ...base, adminAddress, reachable: true, raftLink, status, error: 'no admin listener (--listen-metrics)', history: [] };
    try {
      const answer = await fetch(`http://${adminAddress}/api/node`, { signal: AbortSignal.timeout(MEMBER_TIMEOUT_MS) });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const node = (await answer.json()) as { history?: Sample[] };
      return { ...base, adminAddress, reachable: true, raftLink, status, error: null, history: node.history ?? [] };
    } catch (error) {
      return { ...base, adminAddress, reachable: true, raftLink, status, error: `samples from ${adminAddress}: ${(error as Error).message}`, history: [] };
    }
  }
}
