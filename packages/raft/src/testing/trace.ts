import { describeMessage } from '../describe.js';
import { UNITS_PER_TICK } from './clock.js';
import type { Message } from '../types.js';

/** One traced event. Messages are stored by reference (they are immutable) and formatted lazily. */
interface TraceRecord {
  readonly time: number;
  readonly text?: string;
  readonly message?: Message;
  /** For messages: 'deliver' or a drop reason. */
  readonly verb?: string;
}

/**
 * A ring buffer of the last `capacity` events of a run, printed on failure. Formatting is lazy:
 * recording a delivery costs one small object, so tracing stays on for every seed.
 */
export class Trace {
  private readonly records: (TraceRecord | undefined)[];
  private next = 0;
  private total = 0;

  constructor(readonly capacity: number) {
    this.records = new Array<TraceRecord | undefined>(Math.max(1, capacity));
  }

  note(time: number, text: string): void {
    this.push({ time, text });
  }

  /** Record a message event. Plain heartbeats (no ReadIndex context) are left out: they drown the rest. */
  message(time: number, verb: string, message: Message): void {
    if ((message.type === 'heartbeat' || message.type === 'heartbeatResp') && message.context === undefined) return;
    this.push({ time, verb, message });
  }

  /** The retained events, oldest first, one line each. */
  lines(): string[] {
    const out: string[] = [];
    const n = this.records.length;
    for (let k = 0; k < n; k++) {
      const r = this.records[(this.next + k) % n];
      if (r === undefined) continue;
      const body = r.message !== undefined ? `${r.verb} ${describeMessage(r.message)}` : (r.text ?? '');
      out.push(`${formatTime(r.time)} ${body}`);
    }
    return out;
  }

  /** How many events were recorded in total (including those no longer retained). */
  get recorded(): number {
    return this.total;
  }

  private push(record: TraceRecord): void {
    this.records[this.next] = record;
    this.next = (this.next + 1) % this.records.length;
    this.total++;
  }
}

/** `t=12.3` in Raft ticks. */
export function formatTime(time: number): string {
  return `t=${(time / UNITS_PER_TICK).toFixed(1).padStart(6)}`;
}
