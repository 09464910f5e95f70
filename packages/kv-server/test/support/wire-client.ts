/**
 * A minimal client for tests: speaks the client protocol (4-byte length + msgpack frames) over
 * one TCP connection with pipelined requests matched by id. No retries, no leader discovery:
 * tests see exactly what the server answers.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { FrameDecoder, KeelError, encodeFrame } from '@keel/protocol';
import { splitAddress, waitForProgress, type Cluster } from '@keel/test-support';
import type { ClientRequest, ClientResponse, ClientResults, WireError, WriteSession } from '@keel/protocol';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RequestBody = DistributiveOmit<ClientRequest, 'id'>;
type WriteBody = Extract<RequestBody, { session: WriteSession }>;

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

export class WireClient {
  private nextId = 1;
  private readonly pending = new Map<number, (r: ClientResponse) => void>();
  private readonly decoder = new FrameDecoder({ copyBuffers: true });
  private outbox: Buffer[] = [];
  private flushScheduled = false;
  private closedError: Error | undefined;
  /** Resolves when the server closes the connection (or it fails). */
  readonly closed: Promise<void>;
  /** Write-session identity for writes sent through `write()`. */
  readonly clientId = randomBytes(8).toString('hex');
  private nextSeq = 1;
  private readonly outstanding = new Set<number>();
  private lowWater = 1;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (value) => {
          const r = value as ClientResponse;
          const waiter = this.pending.get(r.id);
          if (waiter !== undefined) {
            this.pending.delete(r.id);
            waiter(r);
          } else {
            this.unmatched.push(r);
          }
        });
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedError ??= new Error('connection closed');
        for (const [, w] of this.pending) {
          w({ id: 0, ok: false, error: { code: 'CONNECTION_LOST', message: 'connection closed', definite: false } });
        }
        this.pending.clear();
        resolve();
      });
      socket.on('error', (err) => {
        this.closedError = err;
      });
    });
  }

  /** Responses that matched no request (e.g. errors for frames that carried no usable id). */
  readonly unmatched: ClientResponse[] = [];

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new WireClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Send one request; resolves with the raw response (ok or error). */
  request(body: RequestBody): Promise<ClientResponse> {
    const id = this.nextId++;
    return this.sendWithId({ ...body, id } as ClientRequest);
  }

  /** Send a request with an explicit id (or any value at all, for bad-input tests). */
  sendWithId(message: unknown): Promise<ClientResponse> {
    if (this.closedError !== undefined) {
      return Promise.resolve({ id: 0, ok: false, error: { code: 'CONNECTION_LOST', message: 'closed', definite: false } });
    }
    const id = (message as { id?: unknown }).id;
    const p = new Promise<ClientResponse>((resolve) => {
      if (typeof id === 'number') this.pending.set(id, resolve);
      else resolve({ id: 0, ok: false, error: { code: 'INTERNAL', message: 'no id to match', definite: false } });
    });
    this.enqueue(encodeFrame(message, 64 * 1024 * 1024));
    return p;
  }

  /** Send raw bytes (malformed frames). */
  sendRaw(data: Uint8Array): void {
    this.enqueue(Buffer.from(data));
  }

  /** Send and unwrap: the result, or a thrown KeelError. */
  async call<Op extends ClientRequest['op']>(body: Extract<RequestBody, { op: Op }>): Promise<ClientResults[Op]> {
    const r = await this.request(body as RequestBody);
    if (!r.ok) throw KeelError.fromWire(r.error as WireError);
    return r.result as ClientResults[Op];
  }

  /** A write with this client's session (fresh seq); returns the raw response. */
  write(body: DistributiveOmit<WriteBody, 'session'>): Promise<ClientResponse> {
    const seq = this.nextSeq++;
    this.outstanding.add(seq);
    const session: WriteSession = { clientId: this.clientId, seq, ackedBelow: this.lowWater };
    return this.request({ ...body, session } as RequestBody).then((r) => {
      this.outstanding.delete(seq);
      while (this.lowWater < this.nextSeq && !this.outstanding.has(this.lowWater)) this.lowWater++;
      return r;
    });
  }

  put(key: string, value: string): Promise<ClientResponse> {
    return this.write({ op: 'put', key: bytes(key), value: bytes(value) });
  }

  async get(key: string, consistency: 'linearizable' | 'serializable' = 'linearizable'): Promise<string | null> {
    const r = await this.call({ op: 'get', key: bytes(key), consistency });
    return r.kv === null ? null : text(r.kv.value);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private enqueue(frame: Buffer): void {
    this.outbox.push(frame);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const out = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox);
      this.outbox = [];
      if (!this.socket.destroyed) this.socket.write(out);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A connection to node `id`'s client port, closed when the cluster is destroyed. */
export async function wireClient(cluster: Cluster, id: number): Promise<WireClient> {
  const { host, port } = splitAddress(cluster.node(id).clientAddress);
  const client = await WireClient.connect(port, host);
  cluster.defer(() => client.close());
  return client;
}

/** The error of a failed response, or a thrown Error for a successful one. */
export function errorOf(r: ClientResponse): WireError {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.result)}`);
  return r.error;
}

/** Waits until the node behind `c` has applied `index`; fails only when its applied index stops moving. */
export async function waitApplied(c: WireClient, index: number): Promise<void> {
  let applied = 0;
  await waitForProgress(async () => (applied = (await c.call({ op: 'status' })).applied) >= index, () => applied, `applied index ${index}`);
}

/**
 * Sends a membership request, again while the leader answers CONF_CHANGE_PENDING (its previous
 * change not yet applied); fails only when the leader's applied index stops moving meanwhile.
 */
export async function memberChange(c: WireClient, body: RequestBody): Promise<ClientResponse> {
  let applied = 0;
  return waitForProgress(
    async () => {
      const r = await c.request(body);
      if (r.ok || r.error.code !== 'CONF_CHANGE_PENDING') return r;
      applied = (await c.call({ op: 'status' })).applied;
      return undefined;
    },
    () => applied,
    `${body.op} past CONF_CHANGE_PENDING`,
  );
}
