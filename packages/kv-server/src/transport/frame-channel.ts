/**
 * A request/response view of one framed TCP connection, for the snapshot stream's
 * stop-and-wait exchange: `send()` writes one frame, `next(timeoutMs)` waits for the next frame.
 * Failures (timeout, malformed frame, connection closed) reject the waiting `next()` with a
 * `KeelError` and fail the channel for good.
 */
import type net from 'node:net';
import { FrameDecoder, KeelError, encodeFrame } from '@keel/protocol';
import { dial, type TlsCredentials } from '../tls/index.js';
import { parseAddress } from './address.js';
import { asKeelError, connectionLostError, dialFailedError, malformedFrameError, waitTimeoutError } from './errors.js';

/** Frames that may arrive before anyone waits for them. */
const INBOX_FRAMES_MAX = 16;

export class FrameChannel {
  private readonly decoder: FrameDecoder;
  private readonly inbox: unknown[] = [];
  private waiter: { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private failure: KeelError | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes, copyBuffers: true, plainValues: true });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (value) => this.deliver(value));
      } catch (error) {
        this.fail(asKeelError(error));
      }
    });
    socket.on('error', (error) => this.fail(dialFailedError('connection failed', error)));
    socket.on('close', () => this.fail(connectionLostError('connection closed by the peer')));
  }

  /** Opens a connection to `address` within `timeoutMs` (over mutual TLS with `tls`). */
  static connect(address: string, maxFrameBytes: number, timeoutMs: number, tls?: TlsCredentials): Promise<FrameChannel> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      const { socket, ready } = dial(host, port, tls);
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(waitTimeoutError(`connecting to ${address} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(dialFailedError(`cannot connect to ${address}`, error));
      });
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new FrameChannel(socket, maxFrameBytes));
      });
    });
  }

  /** Writes one frame. Throws the channel's failure, or `KeelError('TOO_LARGE')` for an oversized value. */
  send(value: unknown): void {
    if (this.failure !== null) throw this.failure;
    this.socket.write(encodeFrame(value, this.maxFrameBytes));
  }

  /** The next frame received; rejects after `timeoutMs` with `KeelError('TIMEOUT')` naming `what`. */
  next(timeoutMs: number, what: string): Promise<unknown> {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift());
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.waiter !== null) throw new Error('FrameChannel.next() called while another call is waiting');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(waitTimeoutError(`no ${what} within ${timeoutMs} ms`, true));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** Closes the connection; a waiting `next()` rejects. */
  close(): void {
    this.fail(connectionLostError('channel closed'));
  }

  private deliver(value: unknown): void {
    const waiter = this.waiter;
    if (waiter === null) {
      // The exchange is stop-and-wait: a peer that answers far ahead of the questions is broken.
      if (this.inbox.length >= INBOX_FRAMES_MAX) {
        this.fail(malformedFrameError(`more than ${INBOX_FRAMES_MAX} unrequested frames from the peer`));
        return;
      }
      this.inbox.push(value);
      return;
    }
    this.waiter = null;
    clearTimeout(waiter.timer);
    waiter.resolve(value);
  }

  private fail(error: KeelError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.socket.destroy();
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
