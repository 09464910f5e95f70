/**
 * Liveness of peer connections, at the application level.
 *
 * TCP alone does not notice a path that silently drops packets: the connection stays open, the
 * sender's kernel retransmits with exponential backoff (a minute between resends is normal), and
 * after the network heals the link can stay mute for that long although a new connection would
 * work at once. TCP keepalive only probes connections with nothing in flight, and Node does not
 * expose `TCP_USER_TIMEOUT` (which bounds unacknowledged data), so the transport watches its
 * connections itself:
 *
 * - the dialing side of a raft connection sends a `ping` frame every ping interval, and the
 *   accepting side answers each with a `pong` (a link between two followers carries no Raft
 *   traffic at all, so this is what proves the path works, in both directions);
 * - a side that receives no frame for `LIVENESS_PINGS` consecutive ping intervals declares the
 *   connection dead: the dialer tears it down and redials, the acceptor closes it.
 *
 * Silence is counted in ping intervals, not wall time, so a long event-loop stall on this node
 * (the timer fires late, before the frames waiting in the socket are read) counts as one interval.
 */

/** Ping intervals without a frame after which a peer connection is dead. */
export const LIVENESS_PINGS = 4;

/** Shortest liveness timeout a node derives from its election timeout (see `peerLivenessTimeoutMs`). */
export const LIVENESS_TIMEOUT_MS_MIN = 1_000;

/**
 * The liveness timeout for a node whose randomized election timeout is at most
 * `electionTimeoutMsMax`: about one election timeout (a follower that long without its leader
 * starts an election anyway), and at least `LIVENESS_TIMEOUT_MS_MIN` so that a busy machine with
 * very short ticks does not tear down healthy links.
 */
export function peerLivenessTimeoutMs(electionTimeoutMsMax: number): number {
  return Math.max(LIVENESS_TIMEOUT_MS_MIN, electionTimeoutMsMax);
}

export const PING_FRAME = { type: 'ping' } as const;
export const PONG_FRAME = { type: 'pong' } as const;

export function isPing(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'ping';
}

export function isPong(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'pong';
}

/**
 * Counts ping intervals in which a connection received no frame.
 * Invariant: `silentIntervals` is the number of consecutive completed intervals without a frame.
 */
export class Silence {
  private heardInInterval = false;
  private silent = 0;

  /** Completed intervals without a frame, in a row. */
  get silentIntervals(): number {
    return this.silent;
  }

  /** A frame arrived. */
  heard(): void {
    this.heardInInterval = true;
  }

  /** Ends a ping interval; true when the connection has now been silent for `LIVENESS_PINGS` intervals. */
  endInterval(): boolean {
    this.silent = this.heardInInterval ? 0 : this.silent + 1;
    this.heardInInterval = false;
    return this.silent >= LIVENESS_PINGS;
  }
}
