/**
 * One client connection: decode frames, validate each request, run `handle()` for many requests
 * at once (pipelining; responses carry the request id and may leave out of order), and write all
 * responses ready in one event-loop turn with one socket write.
 *
 * Invariants: `inflight` counts requests handed to `handle()` and not yet answered, and never
 * exceeds `inflightMax` (more get OVERLOADED without running). While the socket pushes back
 * (write() returned false) the connection stops reading, so a client that does not read its
 * responses cannot make the server buffer without bound.
 */
import type net from 'node:net';
import type { Logger } from '@keel/raft';
import type { ClientRequest, ClientResponse, ClientResults, WireError } from '@keel/protocol';
import { FrameBatch, FrameDecoder, KeelError, NO_REQUEST_ID, RequestValidationError, validateClientRequest } from '@keel/protocol';
import { closeGracefully } from '../transport/graceful-close.js';

export type ClientHandler = (request: ClientRequest) => Promise<ClientResults[ClientRequest['op']]>;

export interface ClientConnectionSettings {
  readonly logger: Logger;
  readonly handle: ClientHandler;
  readonly maxFrameBytes: number;
  readonly inflightMax: number;
  readonly onClosed: (connection: ClientConnection) => void;
}

export class ClientConnection {
  private readonly decoder: FrameDecoder;
  private readonly batch: FrameBatch;
  private inflight = 0;
  private flushScheduled = false;
  private readingPaused = false;
  private closed = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    readonly socket: net.Socket,
    private readonly settings: ClientConnectionSettings,
  ) {
    socket.setNoDelay(true);
    this.decoder = new FrameDecoder({ maxFrameBytes: settings.maxFrameBytes });
    this.batch = new FrameBatch(settings.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      settings.logger.log('debug', 'client.connection.error', { remote: socket.remoteAddress, error: error.message });
      this.close();
    });
    socket.on('close', () => this.close());
  }

  /** Requests running in `handle()`. */
  get inflightCount(): number {
    return this.inflight;
  }

  /** Closes the connection at once; answers still running are discarded. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.settings.onClosed(this);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.decoder.push(chunk, (value, bytes) => this.onFrame(value, bytes));
    } catch (error) {
      this.reject(error instanceof KeelError ? error : new KeelError('INTERNAL', String(error)));
    }
  }

  private onFrame(value: unknown, bytes: number): void {
    if (this.closed) return;
    let request: ClientRequest;
    try {
      request = validateClientRequest(value, bytes);
    } catch (error) {
      if (!(error instanceof RequestValidationError)) throw error;
      if (error.requestId === NO_REQUEST_ID) throw error; // not a request at all: close
      this.respond({ id: error.requestId, ok: false, error: error.toWire() });
      return;
    }
    const id = request.id;
    if (this.inflight >= this.settings.inflightMax) {
      this.respond({
        id,
        ok: false,
        error: { code: 'OVERLOADED', message: `more than ${this.settings.inflightMax} requests in flight on this connection`, definite: true },
      });
      return;
    }
    this.inflight++;
    let pending: Promise<ClientResults[ClientRequest['op']]>;
    try {
      pending = this.settings.handle(request);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (result) => {
        this.inflight--;
        this.respond({ id, ok: true, result });
      },
      (error: unknown) => {
        this.inflight--;
        this.respond({ id, ok: false, error: this.toWire(request, error) });
      },
    );
  }

  private toWire(request: ClientRequest, error: unknown): WireError {
    if (error instanceof KeelError) return error.toWire();
    let message: string;
    try {
      message = error instanceof Error ? error.message : String(error);
    } catch {
      message = 'the handler failed with a value that has no text form';
    }
    this.settings.logger.log('error', 'client.handler.failed', { op: request.op, id: request.id, error: message });
    return { code: 'INTERNAL', message, definite: false };
  }

  /** Queues a response for this turn's write. A response that cannot be encoded becomes an error. */
  private respond(response: ClientResponse): void {
    if (this.closed) return;
    try {
      this.batch.add(response);
    } catch (error) {
      const keel = error instanceof KeelError ? error : null;
      this.settings.logger.log('warn', 'client.response.unencodable', { id: response.id, error: (error as Error).message });
      this.batch.add({
        id: response.id,
        ok: false,
        error: {
          code: keel?.code ?? 'INTERNAL',
          message: `the response could not be sent: ${(error as Error).message}`,
          definite: false,
        },
      } satisfies ClientResponse);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** One socket write for every response queued since the last flush. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.batch.count === 0) return;
    if (!this.socket.write(this.batch.take()) && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
      this.socket.once('drain', () => {
        this.readingPaused = false;
        if (!this.closed) this.socket.resume();
      });
    }
  }

  /** A bad frame: answer with its error (id NO_REQUEST_ID) after the queued responses, then close. */
  private reject(error: KeelError): void {
    if (this.closed) return;
    this.closed = true;
    this.settings.logger.log('warn', 'client.frame.rejected', { remote: this.socket.remoteAddress, code: error.code, error: error.message });
    const response: ClientResponse = { id: NO_REQUEST_ID, ok: false, error: { code: error.code, message: error.message, definite: true } };
    try {
      this.batch.add(response);
    } catch {
      // An error frame always fits; nothing else to send.
    }
    closeGracefully(this.socket, this.batch.take());
    this.settings.onClosed(this);
  }
}
