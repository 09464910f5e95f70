/**
 * The client API's TCP server. Each connection (`ClientConnection`) validates every request at the
 * boundary before `handle()` sees it, pipelines requests, and batches responses into one socket
 * write per event-loop turn. Bad input gets a typed error response; a malformed or oversized
 * frame gets a MALFORMED_FRAME / TOO_LARGE error frame (id `NO_REQUEST_ID`) and closes only that
 * connection. A node that dials this port as its peer port gets a handshake refusal (WRONG_PORT)
 * naming the peer port.
 *
 * With `tls`, the port speaks TLS only: clients verify the node's certificate, and when the
 * credentials carry a CA (`--client-ca`) every client must present a certificate it signed; a
 * failed handshake never reaches the protocol. A plaintext client gets one TLS_FAILED error frame
 * (id -1); a TLS client at a plaintext port gets one too, which its TLS layer reports as a
 * plaintext port. Reloaded credentials apply to new connections.
 *
 * Resource limits, so that no client can exhaust the node's memory or hold its slots:
 * - at most `maxConnections` open connections. When they are all open, a newcomer takes the slot
 *   of the oldest connection that has not sent a single frame in `FRESH_EVICTION_AGE_MS` (well-
 *   behaved clients send at once, so these are idle openers); that one gets an OVERLOADED error
 *   frame (id `NO_REQUEST_ID`) and is closed. With no such connection the newcomer gets the
 *   OVERLOADED frame instead (logged once per burst, not per connection);
 * - time limits per connection: first request, partial frame, idle (see `ClientConnection`);
 * - per connection, at most `inflightPerConnectionMax` requests accepted (more get OVERLOADED);
 * - per connection, at most about `responseBytesPerConnectionMax` bytes of responses held: bytes
 *   reserved for the worst-case responses of running requests plus output the kernel has not
 *   taken. Past it, requests wait (in order, not refused) and the connection stops reading.
 * Worst case per node is thus about `maxConnections × responseBytesPerConnectionMax` of responses.
 */
import net from 'node:net';
import type { Logger } from '@keel/raft';
import type { ClientRequest, ClientResponse, ClientResults, KeelError } from '@keel/protocol';
import { LIMITS, NO_REQUEST_ID, encodeFrame } from '@keel/protocol';
import { connectionsFullError, evictedError, plaintextClientAtTlsPortError, untrustedClientError } from '../transport/errors.js';
import { CLOSE_GRACE_MS, closeGracefully } from '../transport/graceful-close.js';
import { ListenError, formatAddress } from '../transport/listen-error.js';
import { TlsAcceptor, type TlsCredentials } from '../tls/index.js';
import { ClientConnection, nowMs, type ClientConnectionSettings, type ConnectionIdentity } from './client-connection.js';

/**
 * Default budget of response bytes held per connection (see
 * `ClientPortOptions.responseBytesPerConnectionMax`): 127 gets or 14 scans at once, whatever their
 * actual sizes. Smaller budgets throttle a client that pipelines many small gets on one connection
 * (as `@keel/client` does): with 32 MiB (31 gets at once), 512 pipelined small linearizable gets
 * ran at roughly half the rate of an unlimited budget in the load check (now `pnpm bench`); 128 MiB matched it.
 */
export const RESPONSE_BYTES_PER_CONNECTION_DEFAULT = 128 * 1024 * 1024;
/** Smallest response budget accepted: room for a few pipelined small answers. */
export const RESPONSE_BYTES_PER_CONNECTION_MIN = 64 * 1024;
/**
 * Refused connections that may linger at once for the full `CLOSE_GRACE_MS` (reading and
 * discarding what the client still sends, so that its kernel never resets the connection before
 * the client read the error frame). Beyond them a refused connection lingers only
 * `REFUSED_CROWD_GRACE_MS`: every refusal still carries its frame (the client's only proof that
 * its requests were not read), but a flood of connections cannot hold descriptors for long.
 */
const REFUSED_LINGERING_MAX = 64;
/** How long a refused connection beyond `REFUSED_LINGERING_MAX` lingers: a few event-loop turns to read what the client sent at once. */
const REFUSED_CROWD_GRACE_MS = 100;
/**
 * A connection that has sent nothing for this long may be closed to make room for a newcomer when
 * every slot is taken. Long enough for any client that connects in order to send; short enough
 * that a flood of idle connections gives its slots up at once.
 */
export const FRESH_EVICTION_AGE_MS = 1_000;
/** Defaults of the per-connection time limits, in ms. */
export const CLIENT_TIMEOUT_DEFAULTS = {
  /** A new connection must send its first request within this time. */
  firstRequestTimeoutMs: 10_000,
  /** A frame, once begun, must be complete within this time. */
  frameTimeoutMs: 10_000,
  /** A connection with nothing in flight is closed after this much idleness. */
  idleTimeoutMs: 300_000,
} as const;
/** The sweep that enforces the time limits runs at least this often, in ms. */
const SWEEP_INTERVAL_MS_MAX = 1_000;

export interface ClientPortOptions {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  logger: Logger;
  /** Runs a validated request; throw (reject with) a `KeelError` to answer an error. Other errors answer INTERNAL. */
  handle(request: ClientRequest, identity: ConnectionIdentity): Promise<ClientResults[ClientRequest['op']]>;
  /** Serves `watch` and `watchCancel` (the node's watch hub). Without it they go to `handle`. */
  watches?: ClientConnectionSettings['watches'];
  /** Checks a watch against the auth state when it opens and before each of its frames (the auth gate). */
  authorizeWatch?: ClientConnectionSettings['authorizeWatch'];
  /** TLS on every connection with these credentials; with a CA, client certificates are required. Default: plaintext. */
  tls?: TlsCredentials;
  /** Where this node listens for peers, named to a node that dials the client port by mistake. Default: not named. */
  peerAddress?: () => string;
  /** Largest frame, in bytes. Default `LIMITS.frameBytesMax`. */
  maxFrameBytes?: number;
  /** Requests accepted (waiting or running) per connection before OVERLOADED. Default `LIMITS.inflightPerConnectionMax`. */
  inflightPerConnectionMax?: number;
  /** Open client connections before new ones are refused with OVERLOADED. Default `LIMITS.clientConnectionsMax`. */
  maxConnections?: number;
  /** A new connection that sends no request for this long is closed. Default 10 000 ms. */
  firstRequestTimeoutMs?: number;
  /** A connection that starts a frame and does not finish it within this time gets TIMEOUT and is closed. Default 10 000 ms. */
  frameTimeoutMs?: number;
  /** A connection with nothing in flight for this long is closed (clients reconnect on their next request). Default 300 000 ms. */
  idleTimeoutMs?: number;
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
  /** Frames read from the client so far (requests, valid or not). */
  readonly framesRead: number;
}

export class ClientPortServer {
  private readonly connections = new Set<ClientConnection>();
  /** Open connections that have not sent a frame yet, oldest first: the first to make room. */
  private readonly fresh = new Set<ClientConnection>();
  private readonly settings: ClientConnectionSettings;
  private readonly maxConnections: number;
  private server: net.Server | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  /** Connections refused, and closed to make room, since the port became full (a burst; both 0: none). */
  private refusedInBurst = 0;
  private evictedInBurst = 0;
  private refusedLingering = 0;
  private refusedTotal = 0;
  private evictedTotal = 0;

  constructor(private readonly o: ClientPortOptions) {
    const inflight = o.inflightPerConnectionMax ?? LIMITS.inflightPerConnectionMax;
    positiveInteger('inflightPerConnectionMax', inflight, 1);
    this.maxConnections = o.maxConnections ?? LIMITS.clientConnectionsMax;
    positiveInteger('maxConnections', this.maxConnections, 1);
    const responseBytes = o.responseBytesPerConnectionMax ?? RESPONSE_BYTES_PER_CONNECTION_DEFAULT;
    positiveInteger('responseBytesPerConnectionMax', responseBytes, RESPONSE_BYTES_PER_CONNECTION_MIN);
    this.settings = {
      logger: o.logger,
      handle: (request: ClientRequest, identity: ConnectionIdentity) => this.o.handle(request, identity),
      watches: o.watches,
      authorizeWatch: o.authorizeWatch,
      maxFrameBytes: o.maxFrameBytes ?? LIMITS.frameBytesMax,
      inflightMax: inflight,
      responseBytesMax: responseBytes,
      peerAddress: () => this.o.peerAddress?.() ?? '',
      firstRequestTimeoutMs: positiveMs('firstRequestTimeoutMs', o.firstRequestTimeoutMs ?? CLIENT_TIMEOUT_DEFAULTS.firstRequestTimeoutMs),
      frameTimeoutMs: positiveMs('frameTimeoutMs', o.frameTimeoutMs ?? CLIENT_TIMEOUT_DEFAULTS.frameTimeoutMs),
      idleTimeoutMs: positiveMs('idleTimeoutMs', o.idleTimeoutMs ?? CLIENT_TIMEOUT_DEFAULTS.idleTimeoutMs),
      onFirstFrame: (c: ClientConnection) => this.fresh.delete(c),
      onClosed: (c: ClientConnection) => {
        this.connections.delete(c);
        this.fresh.delete(c);
      },
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

  /** Connections closed to make room for a newcomer, since the server started. */
  get evictedConnectionCount(): number {
    return this.evictedTotal;
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
      framesRead: c.framesRead,
    }));
  }

  /** Starts accepting clients. Resolves with the bound port; rejects with `ListenError`. */
  listen(): Promise<{ port: number }> {
    if (this.server !== null) throw new Error('ClientPortServer.listen() called twice');
    const acceptor = this.tlsAcceptor();
    const server = net.createServer((socket) => (acceptor !== undefined ? acceptor.accept(socket) : this.accept(socket)));
    this.server = server;
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ListenError('clients', formatAddress(this.o.host, this.o.port), error));
      server.once('error', failed);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', failed);
        server.on('error', (error) => this.o.logger.log('error', 'client.server.error', { error: error.message }));
        const address = server.address() as net.AddressInfo;
        this.o.logger.log('info', 'client.listening', { host: address.address, port: address.port });
        const { firstRequestTimeoutMs, frameTimeoutMs, idleTimeoutMs } = this.settings;
        const sweepMs = Math.min(SWEEP_INTERVAL_MS_MAX, Math.min(firstRequestTimeoutMs, frameTimeoutMs, idleTimeoutMs) / 4);
        this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
        resolve({ port: address.port });
      });
    });
  }

  /**
   * Stops accepting, lets every connection answer the requests it accepted (their handlers must
   * settle: the node fails what it cannot finish), then closes them gracefully.
   */
  async drainAndClose(): Promise<void> {
    const drained = [...this.connections].map((connection) => connection.drain());
    const closed = this.close();
    await Promise.all(drained);
    await closed;
  }

  /** Stops accepting and closes every connection (answers still running are discarded). */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    const server = this.server;
    this.closing = new Promise<void>((resolve) => {
      if (server === null) return resolve();
      server.close(() => resolve());
    });
    for (const connection of [...this.connections]) connection.close();
    return this.closing;
  }

  /**
   * The TLS side of the port, when the node has client credentials. A connection's handshake
   * takes at most the first-request timeout; open connections are counted once it is done.
   */
  private tlsAcceptor(): TlsAcceptor | undefined {
    const credentials = this.o.tls;
    if (credentials === undefined) return undefined;
    return new TlsAcceptor({
      credentials,
      requireCertificate: credentials.paths.ca !== undefined,
      handshakeTimeoutMs: this.settings.firstRequestTimeoutMs,
      onSecure: (socket) => this.accept(socket),
      onPlaintext: (socket) => this.refuseTls(socket, plaintextClientAtTlsPortError()),
      onUntrusted: (socket, why) => this.refuseTls(socket, untrustedClientError(why)),
      onHandshakeFailed: (remote, why) => this.o.logger.log('warn', 'client.tls.refused', { remote, error: why }),
    });
  }

  /** Refuses a connection before reading a request: one TLS_FAILED error frame (id -1), and close. */
  private refuseTls(socket: net.Socket, refusal: KeelError): void {
    if (this.closing !== null) return void socket.destroy();
    this.o.logger.log('warn', 'client.tls.refused', { remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, error: refusal.message });
    const response: ClientResponse = { id: NO_REQUEST_ID, ok: false, error: refusal.toWire() };
    closeGracefully(socket, encodeFrame(response));
  }

  private accept(socket: net.Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      if (!this.makeRoom()) {
        this.refuse(socket);
        return;
      }
    } else if (this.refusedInBurst + this.evictedInBurst > 0) {
      this.o.logger.log('info', 'client.connections.accepting', { refused: this.refusedInBurst, evicted: this.evictedInBurst, open: this.connections.size });
      this.refusedInBurst = 0;
      this.evictedInBurst = 0;
    }
    const connection = new ClientConnection(socket, this.settings);
    this.connections.add(connection);
    this.fresh.add(connection);
  }

  /** Closes the oldest connection that has sent nothing for `FRESH_EVICTION_AGE_MS`; false when there is none. */
  private makeRoom(): boolean {
    const oldest = this.fresh.values().next();
    if (oldest.done === true) return false;
    const silentMs = nowMs() - oldest.value.openedAtMs;
    if (silentMs < FRESH_EVICTION_AGE_MS) return false;
    this.noteFull();
    this.evictedInBurst++;
    this.evictedTotal++;
    oldest.value.evict(evictedError(this.maxConnections, silentMs));
    return true;
  }

  /** The sweep of the per-connection time limits. */
  private sweep(): void {
    const now = nowMs();
    for (const connection of [...this.connections]) connection.sweep(now);
  }

  /** Logs the start of a burst of refusals and evictions (once, not per connection). */
  private noteFull(): void {
    if (this.refusedInBurst + this.evictedInBurst === 0) {
      this.o.logger.log('warn', 'client.connections.full', { open: this.connections.size, max: this.maxConnections });
    }
  }

  /**
   * Answers a connection beyond `maxConnections` with one OVERLOADED frame and closes it. Nothing
   * it sent is read as a request, and the frame says so (definite): without it, a client that had
   * sent a write could not tell this close from a server that failed after applying it.
   */
  private refuse(socket: net.Socket): void {
    this.refusedTotal++;
    this.noteFull();
    this.refusedInBurst++;
    socket.on('error', () => {});
    const crowded = this.refusedLingering >= REFUSED_LINGERING_MAX;
    this.refusedLingering++;
    socket.once('close', () => this.refusedLingering--);
    const response: ClientResponse = { id: NO_REQUEST_ID, ok: false, error: connectionsFullError(this.maxConnections).toWire() };
    closeGracefully(socket, encodeFrame(response), crowded ? REFUSED_CROWD_GRACE_MS : CLOSE_GRACE_MS);
  }
}

function positiveMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of ms, got ${value}`);
  return value;
}

function positiveInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`${name} must be an integer >= ${min}, got ${value}`);
}

