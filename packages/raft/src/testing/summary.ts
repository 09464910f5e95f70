/**
 * The counters of one run, summed over a sweep. Every counter is a plain integer so a sweep's
 * summary is one JSON line.
 */
export interface SimCounters {
  seeds: number;
  /** Events taken off the event queue (deliveries, ticks, disk completions, faults, client ops). */
  events: number;
  ticks: number;
  /** Campaigns: a node became (pre)candidate. */
  elections: number;
  /** A node became leader of a term. */
  leaderChanges: number;
  /** Client writes applied (first application anywhere). */
  committed: number;
  /** Client writes proposed, refused by the node (not leader, transferring…), and accepted but superseded. */
  proposals: number;
  proposalsRejected: number;
  /** Of the refused proposals, those refused by a leader at `maxUncommittedBytes` (back-pressure). */
  proposalsThrottled: number;
  proposalsSuperseded: number;
  crashes: number;
  /** Crashes while a write was pending (its Ready's `messages` already sent): the write was lost. */
  crashesDuringPersist: number;
  /** Of those, crashes of a leader whose lost write held entries it had already sent to followers. */
  leaderCrashesDuringPersist: number;
  restarts: number;
  partitions: number;
  messagesDelivered: number;
  messagesDropped: number;
  messagesDuplicated: number;
  snapshotsTaken: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  readsRequested: number;
  readsServed: number;
  readsRejected: number;
  transfers: number;
  transfersRequested: number;
  /** Membership changes committed (first application anywhere). */
  confChanges: number;
  confChangesProposed: number;
  livenessChecks: number;
  violations: number;
}

export function emptyCounters(): SimCounters {
  return {
    seeds: 0,
    events: 0,
    ticks: 0,
    elections: 0,
    leaderChanges: 0,
    committed: 0,
    proposals: 0,
    proposalsRejected: 0,
    proposalsThrottled: 0,
    proposalsSuperseded: 0,
    crashes: 0,
    crashesDuringPersist: 0,
    leaderCrashesDuringPersist: 0,
    restarts: 0,
    partitions: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    snapshotsTaken: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    readsRequested: 0,
    readsServed: 0,
    readsRejected: 0,
    transfers: 0,
    transfersRequested: 0,
    confChanges: 0,
    confChangesProposed: 0,
    livenessChecks: 0,
    violations: 0,
  };
}

/** Add `b` into `a` (in place) and return `a`. */
export function addCounters(a: SimCounters, b: Readonly<SimCounters>): SimCounters {
  for (const key of Object.keys(a) as (keyof SimCounters)[]) a[key] += b[key];
  return a;
}
