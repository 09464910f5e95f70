/**
 * The client API's TCP server. Each connection (`ClientConnection`) validates every request at the
 * boundary before `handle()` sees it, pipelines requests, and batches responses into one socket
 * write per event-loop turn. Bad input gets a typed error response; a malformed or oversized
 * frame gets a MALFORMED_FRAME / TOO_LARGE error frame (id `NO_REQUEST_ID`) and closes only that
 * connection.
 */
import net from 'node:net';
import type { Logger } from '@keel/raft';
import type { ClientRequest, ClientResults } from '@keel/protocol';
import { LIMITS } from '@keel/protocol';
import { ClientConnection } from './client-connection.js';

export interface ClientPortOptions {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  logger: Logger;
  /** Runs a validated request; throw (reject with) a `KeelError` to answer an error. Other errors answer INTERNAL. */
  handle(request: ClientRequest): Promise<ClientResults[ClientRequest['op']]>;
  /** Largest frame, in bytes. Default `LIMITS.frameBytesMax`. */
  maxFrameBytes?: number;
  /** Requests running at once per connection before OVERLOADED. Default `LIMITS.inflightPerConnectionMax`. */
  inflightPerConnectionMax?: number;
}

export class ClientPortServer {
  private readonly connections = new Set<ClientConnection>();
  private server: net.Server | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: ClientPortOptions) {
    const inflight = o.inflightPerConnectionMax ?? LIMITS.inflightPerConnectionMax;
    if (!Number.isSafeInteger(inflight) || inflight < 1) throw new TypeError(`inflightPerConnectionMax must be a positive integer, got ${inflight}`);
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts accepting clients. Resolves with the bound port. */
  listen(): Promise<{ port: number }> {
    if (this.server !== null) throw new Error('ClientPortServer.listen() called twice');
    const settings = {
      logger: this.o.logger,
      handle: (request: ClientRequest) => this.o.handle(request),
      maxFrameBytes: this.o.maxFrameBytes ?? LIMITS.frameBytesMax,
      inflightMax: this.o.inflightPerConnectionMax ?? LIMITS.inflightPerConnectionMax,
      onClosed: (c: ClientConnection) => this.connections.delete(c),
    };
    const server = net.createServer((socket) => {
      if (this.closing !== null) {
        socket.destroy();
        return;
      }
      this.connections.add(new ClientConnection(socket, settings));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        server.on('error', (error) => this.o.logger.log('error', 'client.server.error', { error: error.message }));
        const address = server.address() as net.AddressInfo;
        this.o.logger.log('info', 'client.listening', { host: address.address, port: address.port });
        resolve({ port: address.port });
      });
    });
  }

  /** Stops accepting and closes every connection (answers still running are discarded). */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const server = this.server;
    this.closing = new Promise<void>((resolve) => {
      if (server === null) return resolve();
      server.close(() => resolve());
    });
    for (const connection of [...this.connections]) connection.close();
    return this.closing;
  }
}
