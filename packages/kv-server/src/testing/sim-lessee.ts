/**
 * The simulated lease user: every few ticks it grants a lease of the shortest TTL on the leader
 * and attaches a key (`lease/<id>`, outside the keys the history checker follows) to it, and
 * never keeps it alive, so the leader's clock (ticks of the simulated time) expires it through
 * the log while the nemesis crashes, partitions and moves leadership. That every node deletes the
 * same keys at the same revision is checked by the comparison of every entry's answers and of
 * the state digests; that no lease ends before its TTL by the simulator (`leaseTiming`).
 */
import { LIMITS, validateClientRequest, type ClientRequest, type ClientResults, type KeelError } from '@keel/protocol';
import type { NodeId } from '@keel/raft';

export interface LesseeWorld {
  leader(): { readonly id: NodeId } | undefined;
  send(node: NodeId, request: ClientRequest, answer: (result: unknown, error: KeelError | undefined) => void): void;
  note(text: string): void;
}

/** A lease is granted every this many ticks (while the previous grant and put are done). */
const GRANT_EVERY_TICKS = 30;
/** The TTL of every lease: the shortest allowed, so leases expire within a run. */
const SIM_LEASE_TTL_SECONDS = LIMITS.leaseTtlSecondsMin;

export class SimLessee {
  private busy = false;
  private seq = 0;
  private requestId = 2_000_000_000;

  constructor(
    private readonly world: LesseeWorld,
    private readonly counters: { leasesGranted: number },
  ) {}

  onTick(tick: number): void {
    if (this.busy || tick % GRANT_EVERY_TICKS !== 0) return;
    const leader = this.world.leader();
    if (leader === undefined) return;
    this.busy = true;
    this.write(leader.id, { op: 'leaseGrant', ttl: SIM_LEASE_TTL_SECONDS }, (result) => {
      const { lease } = result as ClientResults['leaseGrant'];
      this.counters.leasesGranted++;
      this.write(leader.id, { op: 'put', key: new TextEncoder().encode(`lease/${lease}`), value: new Uint8Array(0), lease }, () => undefined);
    });
  }

  /** One write under the lessee's session; `ok` runs on success, any failure just ends the step. */
  private write(node: NodeId, body: Record<string, unknown>, ok: (result: unknown) => void): void {
    const seq = ++this.seq;
    const request = validateClientRequest({ id: ++this.requestId, ...body, session: { clientId: 'lessee', seq, ackedBelow: seq } });
    this.world.send(node, request, (result, error) => {
      this.world.note(`lessee ${body['op'] as string} on ${node}: ${error === undefined ? 'ok' : `${error.code} ${error.message}`}`);
      if (error === undefined && body['op'] === 'leaseGrant') ok(result);
      else this.busy = false;
    });
  }
}
