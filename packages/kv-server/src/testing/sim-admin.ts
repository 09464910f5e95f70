/**
 * The simulated operator: membership changes and leadership transfers sent as client requests
 * (`memberAdd` learner, `memberPromote`, `memberRemove`, `leaderTransfer`) through the node
 * core's request handling, following the scenario's membership plan one step at a time. Spare
 * nodes start empty (as with `--join`) and learn the configuration from the log.
 */
import { validateClientRequest, type ClientRequest, type KeelError } from '@keel/protocol';
import type { NodeId, SeededRng, Status } from '@keel/raft';
import type { Scenario, SimCounters } from '@keel/raft/testing';
import { clientAddressOf, peerAddressOf } from './sim-node.js';

export interface AdminWorld {
  leader(): { readonly id: NodeId; status(): Status | undefined } | undefined;
  readonly ids: readonly NodeId[];
  send(node: NodeId, request: ClientRequest, answer: (result: unknown, error: KeelError | undefined) => void): void;
  note(text: string): void;
}

export class SimAdmin {
  private busy = false;
  private requestId = 1_000_000_000;
  private readonly everMember = new Set<NodeId>();

  constructor(
    private readonly rng: SeededRng,
    private readonly scenario: Scenario,
    private readonly world: AdminWorld,
    private readonly counters: SimCounters,
    private readonly initialVoters: readonly NodeId[],
  ) {
    for (const id of initialVoters) this.everMember.add(id);
  }

  onTick(): void {
    if (this.busy) return;
    const s = this.scenario;
    if (s.transferRate > 0 && this.rng.chance(s.transferRate)) this.transfer();
    else if (s.membership !== 'none' && this.rng.chance(s.confChangeRate)) this.changeMembership();
  }

  private transfer(): void {
    const leader = this.world.leader();
    const status = leader?.status();
    if (leader === undefined || status === undefined) return;
    const voters = status.conf.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = voters[this.rng.nextInt(voters.length)]!;
    this.counters.transfersRequested++;
    this.send(leader.id, { op: 'leaderTransfer', to }, () => this.counters.transfers++);
  }

  private changeMembership(): void {
    const leader = this.world.leader();
    const status = leader?.status();
    if (leader === undefined || status === undefined) return;
    const { voters, learners } = status.conf;
    for (const id of [...voters, ...learners]) this.everMember.add(id);
    const spares = this.world.ids.filter((id) => !this.everMember.has(id));
    let body: Record<string, unknown> | undefined;
    const learner = learners[0];
    if (learner !== undefined) {
      body =
        this.scenario.membership === 'random' && this.rng.chance(0.1)
          ? { op: 'memberRemove', nodeId: learner }
          : { op: 'memberPromote', nodeId: learner };
    } else {
      const add = (id: NodeId): Record<string, unknown> => ({ op: 'memberAdd', nodeId: id, peerAddress: peerAddressOf(id), clientAddress: clientAddressOf(id), learner: true });
      const remove = (from: readonly NodeId[]): Record<string, unknown> | undefined =>
        from.length > 0 ? { op: 'memberRemove', nodeId: from[this.rng.nextInt(from.length)]! } : undefined;
      switch (this.scenario.membership) {
        case 'grow':
          body = voters.length < 5 && spares.length > 0 ? add(spares[0]!) : undefined;
          break;
        case 'shrink':
          body = voters.length > 3 ? remove(voters) : undefined;
          break;
        case 'replace': {
          const originals = voters.filter((v) => this.initialVoters.includes(v));
          if (voters.length > this.initialVoters.length) body = remove(originals);
          else if (originals.length === voters.length && spares.length > 0) body = add(spares[0]!);
          break;
        }
        case 'random': {
          const roll = this.rng.nextFloat();
          if (roll < 0.4 && spares.length > 0) body = add(spares[0]!);
          else if (voters.length > 3) body = remove(voters);
          break;
        }
        case 'none':
          break;
      }
    }
    if (body === undefined) return;
    this.counters.confChangesProposed++;
    this.send(leader.id, body, () => undefined);
  }

  private send(to: NodeId, body: Record<string, unknown>, ok: () => void): void {
    const request = validateClientRequest({ id: ++this.requestId, ...body });
    this.busy = true;
    this.world.send(to, request, (_result, error) => {
      this.busy = false;
      this.world.note(`admin ${JSON.stringify(body)} on ${to}: ${error === undefined ? 'ok' : `${error.code} ${error.message}`}`);
      if (error === undefined) ok();
    });
  }
}
