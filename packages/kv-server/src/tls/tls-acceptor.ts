/**
 * The TLS side of a listening port. The port itself stays a plain TCP server; each new connection
 * is sorted by its first byte: a TLS handshake record goes through the TLS server, anything else
 * is a plaintext client or peer at a TLS port, which the port answers in its own protocol
 * (TLS_FAILED) instead of leaving it hanging or handing it an unreadable TLS alert.
 *
 * The other end's certificate, when one is required, is checked here once the handshake is done
 * and before a single byte reaches Keel's protocol: a connection without one signed by the CA is
 * answered in the port's protocol (TLS_FAILED, saying why) and closed, its input unread. Letting
 * OpenSSL refuse it instead would be no safer, and less clear: in TLS 1.3 the client learns of
 * the refusal only after it has sent its first request, and the alert often loses the race with
 * the connection reset, leaving the client a "connection closed" that it retries.
 *
 * The TLS server never listens: connections are handed to it (`emit('connection')`), the way
 * Node's own servers take over accepted sockets. Its certificates follow the credentials' reloads
 * (`setSecureContext`): new connections use the new ones.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { TLS_HANDSHAKE_RECORD, describeTlsFailure } from '@keel/protocol';
import type { TlsCredentials } from './credentials.js';

export interface TlsAcceptorOptions {
  readonly credentials: TlsCredentials;
  /** Ask for a certificate from every connection and refuse those not signed by the credentials' CA. */
  readonly requireCertificate: boolean;
  /** A connection must send its first byte, and then complete the handshake, within this time each. */
  readonly handshakeTimeoutMs: number;
  /** The handshake succeeded (and the other end's certificate, when required, was verified). */
  readonly onSecure: (socket: tls.TLSSocket) => void;
  /** The first bytes are not a TLS handshake: answer in the port's protocol and close. */
  readonly onPlaintext: (socket: net.Socket) => void;
  /** The handshake succeeded but the other end's certificate is missing or not trusted (`why`): answer in the port's protocol and close. */
  readonly onUntrusted: (socket: tls.TLSSocket, why: string) => void;
  /** The handshake failed (the other end does not trust this node's certificate, a timeout, garbage). */
  readonly onHandshakeFailed: (remote: string, why: string) => void;
}

export class TlsAcceptor {
  private readonly server: tls.Server;
  /** "host:port" of each connection handed to the TLS server: a failed TLS socket no longer knows it. */
  private readonly remotes = new WeakMap<object, string>();

  constructor(private readonly o: TlsAcceptorOptions) {
    this.server = tls.createServer({
      ...o.credentials.options,
      requestCert: o.requireCertificate,
      rejectUnauthorized: false, // checked in `secured`
      handshakeTimeout: o.handshakeTimeoutMs,
    });
    this.server.on('secureConnection', (socket: tls.TLSSocket) => this.secured(socket));
    this.server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      const why =
        describeTlsFailure(error) ??
        `the other end closed the connection during the handshake (${error.message}): does it trust this node's certificate?`;
      o.onHandshakeFailed(this.remotes.get(parentOf(socket)) ?? '?', why);
    });
    o.credentials.onReload(() => this.server.setSecureContext(o.credentials.options));
  }

  /** A finished handshake: on to the port, or refused when a required certificate is missing or untrusted. */
  private secured(socket: tls.TLSSocket): void {
    if (!this.o.requireCertificate || socket.authorized) return this.o.onSecure(socket);
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    const error = Object.assign(new Error(String(socket.authorizationError)), { code: String(socket.authorizationError) });
    const why = presented
      ? (describeTlsFailure(error) ?? `its certificate is not accepted (${error.message})`)
      : 'a client certificate is required and none was presented';
    this.o.onUntrusted(socket, why);
  }

  /** Takes an accepted TCP connection: waits for its first bytes, then sorts it. */
  accept(socket: net.Socket): void {
    const timer = setTimeout(() => socket.destroy(), this.o.handshakeTimeoutMs);
    const dropped = (): void => clearTimeout(timer);
    socket.once('close', dropped);
    socket.on('error', () => socket.destroy()); // the TLS server or the port's handler reports what matters
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.off('close', dropped);
      socket.pause();
      socket.unshift(chunk); // a TLS socket wrapped around this one reads buffered bytes first
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        this.remotes.set(socket, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
        this.server.emit('connection', socket);
      } else {
        this.o.onPlaintext(socket);
      }
    });
  }
}

/** The TCP socket a server-side TLS socket wraps (Node keeps it as `_parent`; not typed). */
function parentOf(socket: tls.TLSSocket): object {
  return (socket as unknown as { _parent?: object })._parent ?? socket;
}
