/**
 * The client API's TCP server. Each connection (`ClientConnection`) validates every request at the
 * boundary before `handle()` sees it, pipelines requests, and batches responses into one socket
 * write per event-loop turn. Bad input gets a typed error response; a malformed or oversized
 * frame gets a MALFORMED_FRAME / TOO_LARGE error frame (id `NO_REQUEST_ID`) and closes only that
 * connection. A node that dials this port as its peer port gets a handshake refusal (WRONG_PORT)
 * naming the peer port.
 *
 * Resource limits, so that no client can exhaust the node's memory:
 * - at most `maxConnections` open connections; one more gets an OVERLOADED error frame (id
 *   `NO_REQUEST_ID`) and is closed (logged once per burst of refusals, not per connection);
 * - per connection, at most `inflightPerConnectionMax` requests accepted (more get OVERLOADED);
 * - per connection, at most about `responseBytesPerConnectionMax` bytes of responses held: bytes
 *   reserved for the worst-case responses of running requests plus output the kernel has not
 *   taken. Past it, requests wait (in order, not refused) and the connection stops reading.
 * Worst case per node is thus about `maxConnections × responseBytesPerConnectionMax` of responses.
 */
import net from 'node:net';
import type { Logger } from '@keel/raft';
import type { ClientRequest, ClientResponse, ClientResults } from '@keel/protocol';
import { LIMITS, NO_REQUEST_ID, encodeFrame } from '@keel/protocol';
import { closeGracefully } from '../transport/graceful-close.js';
import { ListenError, formatAddress } from '../transport/listen-error.js';
import { ClientConnection, type ClientConnectionSettings } from './client-connection.js';

/**
 * Default budget of response bytes held per connection (see
 * `ClientPortOptions.responseBytesPerConnectionMax`): 127 gets or 14 scans at once, whatever their
 * actual sizes. Smaller budgets throttle a client that pipelines many small gets on one connection
 * (as `@keel/client` does): with 32 MiB (31 gets at once), 512 pipelined small linearizable gets
 * ran at roughly half the rate of an unlimited budget in `scripts/load-check.mjs`; 128 MiB matched it.
 */
export const RESPONSE_BYTES_PER_CONNECTION_DEFAULT = 128 * 1024 * 1024;
/** Smallest response budget accepted: room for a few pipelined small answers. */
export const RESPONSE_BYTES_PER_CONNECTION_MIN = 64 * 1024;
/** Refused connections left to close gracefully (so the client reads the error) at once; more are dropped outright. */
const REFUSED_LINGERING_MAX = 64;

export interface ClientPortOptions {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  logger: Logger;
  /** Runs a validated request; throw (reject with) a `KeelError` to answer an error. Other errors answer INTERNAL. */
  handle(request: ClientRequest): Promise<ClientResults[ClientRequest['op']]>;
  /** Where this node listens for peers, named to a node that dials the client port by mistake. Default: not named. */
  peerAddress?: () => string;
  /** Largest frame, in bytes. Default `LIMITS.frameBytesMax`. */
  maxFrameBytes?: number;
  /** Requests accepted (waiting or running) per connection before OVERLOADED. Default `LIMITS.inflightPerConnectionMax`. */
  inflightPerConnectionMax?: number;
  /** Open client connections before new ones are refused with OVERLOADED. Default `LIMITS.clientConnectionsMax`. */
  maxConnections?: number;
  /**
   * Response bytes one connection may hold: the worst-case size of each running request's response
   * (a get about 1 MiB, a scan about 9 MiB, writes 4 KiB) plus output not yet taken by the kernel.
   * Requests beyond it wait, in order, and the connection stops reading until responses drain.
   * A request whose bound alone exceeds the budget still runs when nothing else is held. Default
   * `RESPONSE_BYTES_PER_CONNECTION_DEFAULT` (128 MiB); at least `RESPONSE_BYTES_PER_CONNECTION_MIN`.
   */
  responseBytesPerConnectionMax?: number;
}

/** Resource use of one open connection (for tests and diagnostics). */
export interface ClientConnectionStats {
  /** Requests running in `handle()`. */
  readonly running: number;
  /** Requests accepted and waiting for response budget to start. */
  readonly queued: number;
  /** Response bytes reserved for the running requests. */
  readonly reservedBytes: number;
  /** Response bytes not yet taken by the kernel. */
  readonly unsentBytes: number;
  /** Largest `reservedBytes + unsentBytes` seen. */
  readonly peakHeldBytes: number;
  /** The connection is not reading requests (waiting for budget). */
  readonly readPaused: boolean;
}

export class ClientPortServer {
  private readonly connections = new Set<ClientConnection>();
  private readonly settings: ClientConnectionSettings;
  private readonly maxConnections: number;
  private server: net.Server | null = null;
  private closing: Promise<void> | null = null;
  /** Connections refused since the current burst of refusals began (0: no burst). */
  private refusedInBurst = 0;
  private refusedLingering = 0;
  private refusedTotal = 0;

  constructor(private readonly o: ClientPortOptions) {
    const inflight = o.inflightPerConnectionMax ?? LIMITS.inflightPerConnectionMax;
    positiveInteger('inflightPerConnectionMax', inflight, 1);
    this.maxConnections = o.maxConnections ?? LIMITS.clientConnectionsMax;
    positiveInteger('maxConnections', this.maxConnections, 1);
    const responseBytes = o.responseBytesPerConnectionMax ?? RESPONSE_BYTES_PER_CONNECTION_DEFAULT;
    positiveInteger('responseBytesPerConnectionMax', responseBytes, RESPONSE_BYTES_PER_CONNECTION_MIN);
    this.settings = {
      logger: o.logger,
      handle: (request: ClientRequest) => this.o.handle(request),
      maxFrameBytes: o.maxFrameBytes ?? LIMITS.frameBytesMax,
      inflightMax: inflight,
      responseBytesMax: responseBytes,
      peerAddress: () => this.o.peerAddress?.() ?? '',
      onClosed: (c: ClientConnection) => this.connections.delete(c),
    };
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections refused because `maxConnections` were open, since the server started. */
  get refusedConnectionCount(): number {
    return this.refusedTotal;
  }

  /** Resource use of each open connection, in accept order. */
  connectionStats(): ClientConnectionStats[] {
    return [...this.connections].map((c) => ({
      running: c.inflightCount,
      queued: c.queuedCount,
      reservedBytes: c.reservedBytes,
      unsentBytes: c.unsentBytes,
      peakHeldBytes: c.peakHeldBytes,
      readPaused: c.readPaused,
    }));
  }

  /** Starts accepting clients. Resolves with the bound port; rejects with `ListenError`. */
  listen(): Promise<{ port: number }> {
    if (this.server !== null) throw new Error('ClientPortServer.listen() called twice');
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ListenError('clients', formatAddress(this.o.host, this.o.port), error));
      server.once('error', failed);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', failed);
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

  private accept(socket: net.Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      this.refuse(socket);
      return;
    }
    if (this.refusedInBurst > 0) {
      this.o.logger.log('info', 'client.connections.accepting', { refused: this.refusedInBurst, open: this.connections.size });
      this.refusedInBurst = 0;
    }
    this.connections.add(new ClientConnection(socket, this.settings));
  }

  /** Answers a connection beyond `maxConnections` with one OVERLOADED frame and closes it. */
  private refuse(socket: net.Socket): void {
    this.refusedTotal++;
    if (this.refusedInBurst++ === 0) {
      this.o.logger.log('warn', 'client.connections.full', { open: this.connections.size, max: this.maxConnections });
    }
    socket.on('error', () => {});
    if (this.refusedLingering >= REFUSED_LINGERING_MAX) {
      socket.destroy();
      return;
    }
    this.refusedLingering++;
    socket.once('close', () => this.refusedLingering--);
    const response: ClientResponse = {
      id: NO_REQUEST_ID,
      ok: false,
      error: { code: 'OVERLOADED', message: `the server has ${this.maxConnections} client connections open; retry later`, definite: true },
    };
    closeGracefully(socket, encodeFrame(response));
  }
}

function positiveInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`${name} must be an integer >= ${min}, got ${value}`);
}

