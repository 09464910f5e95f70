/**
 * Write sessions: the bookkeeping that makes retried writes apply at most once.
 *
 * Every write gets a ticket `(clientId, seq)` when it starts, and every attempt of that write sends
 * the same identity, so the server can recognise a retry and answer it from its session table
 * instead of applying it again (Raft thesis §6.3). `ackedBelow` is the lowest seq of the session
 * whose outcome the client does not know for certain yet: the server may forget results below it.
 *
 * A write that ends indeterminate (its fate unknown when the client gave up) is never counted as
 * answered, because a copy of it may still sit in some node's log; the server must remember its
 * seq forever. To keep that table small, the tracker then retires the session and starts a fresh
 * one (a new random `clientId`) for later writes. Writes still in flight keep their original
 * identity. Pure logic: no I/O, no clock.
 */
import type { WriteSession } from '@keel/protocol';

/** The identity of one logical write, fixed for all its attempts. */
export interface WriteTicket {
  readonly clientId: string;
  readonly seq: number;
  /** @internal the session the ticket belongs to. */
  readonly session: SessionState;
}

/** How a write ended, as far as the session table is concerned. */
export type WriteOutcome = 'answered' | 'indeterminate';

/** @internal One client id and its numbering. */
export class SessionState {
  readonly clientId: string;
  /** Next seq to hand out. Invariant: every seq in `unanswered` is < nextSeq. */
  private nextSeq = 1;
  /** Seqs handed out whose outcome is not known for certain yet (in flight, or indeterminate). */
  private readonly unanswered = new Set<number>();
  /** Lowest seq that may still be unanswered. Invariant: no seq below it is in `unanswered`. */
  private floor = 1;

  constructor(clientId: string) {
    this.clientId = clientId;
  }

  issue(): number {
    const seq = this.nextSeq++;
    this.unanswered.add(seq);
    return seq;
  }

  answer(seq: number): void {
    this.unanswered.delete(seq);
  }

  /** The lowest unanswered seq (or the next seq when everything was answered). */
  ackedBelow(): number {
    while (this.floor < this.nextSeq && !this.unanswered.has(this.floor)) this.floor++;
    return this.floor;
  }

  /** Seqs not known to be answered (for tests and diagnostics). */
  pendingCount(): number {
    return this.unanswered.size;
  }
}

/** Hands out write identities and computes `ackedBelow`. */
export class WriteSessionTracker {
  private current: SessionState;
  private readonly newClientId: () => string;

  /** @param newClientId returns a fresh random client id; called once now and once per retired session. */
  constructor(newClientId: () => string) {
    this.newClientId = newClientId;
    this.current = new SessionState(newClientId());
  }

  /** The client id new writes use. */
  get clientId(): string {
    return this.current.clientId;
  }

  /** Starts a write: a new seq in the current session. */
  begin(): WriteTicket {
    const session = this.current;
    return { clientId: session.clientId, seq: session.issue(), session };
  }

  /** The session identity to send with an attempt of `ticket` (same clientId and seq every time). */
  sessionFor(ticket: WriteTicket): WriteSession {
    const ackedBelow = ticket.session.ackedBelow();
    if (ackedBelow > ticket.seq) throw new Error(`invariant: ackedBelow ${ackedBelow} passed unanswered seq ${ticket.seq}`);
    return { clientId: ticket.clientId, seq: ticket.seq, ackedBelow };
  }

  /** Ends a write. `answered`: its outcome is known (success or definite failure). */
  finish(ticket: WriteTicket, outcome: WriteOutcome): void {
    if (outcome === 'answered') {
      ticket.session.answer(ticket.seq);
      return;
    }
    if (ticket.session === this.current) this.current = new SessionState(this.newClientId());
  }
}
