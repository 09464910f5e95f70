/**
 * The admin HTTP listener (`--listen-metrics host:port`): what operators and their tools ask a
 * node, on a port of its own. It reads from the node; it never drives it.
 *
 *   GET /              the live dashboard (one self-contained page)
 *   GET /metrics       Prometheus text format
 *   GET /health        200 {"health":true} while the node runs and its store is writable, else 503 with a reason
 *   GET /ready         200 {"ready":true,…} when a leader is known and applied is close to commit, else 503 with a reason
 *   GET /api/node      this node's status and its last minutes of samples (JSON)
 *   GET /api/cluster   every member's status, reachability and samples, gathered by this node (JSON)
 *   GET /snapshot      a backup: a consistent snapshot of the state machine, in the backup format
 *
 * No authentication: listen on a loopback or private address (a backup holds every key).
 */
import http from 'node:http';
import type { Logger } from '@keel/raft';
import type { ListenAddress } from '../node/config.js';
import { ListenError, formatAddress } from '../transport/listen-error.js';
import type { ClusterView } from './cluster-view.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import type { Readiness, Verdict } from './health.js';

/** A request that fails with this HTTP status (503 while the node starts, say), a message and maybe a Keel error code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Open admin connections at once (operators and scrapers, not clients). */
const CONNECTIONS_MAX = 128;

export interface AdminHandlers {
  /** The metrics in the Prometheus text format, and their content type. */
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  health(): Promise<Verdict>;
  ready(): Readiness;
  node(): unknown;
  cluster(): Promise<ClusterView>;
  /** Stream a backup to `res` (status, headers and body); throw `HttpError` before writing anything when there is none. */
  snapshot(res: http.ServerResponse): Promise<void>;
}

export class AdminServer {
  private server: http.Server | undefined;

  constructor(
    private readonly listenAt: ListenAddress,
    private readonly logger: Logger,
    private readonly handlers: AdminHandlers,
  ) {}

  /** Starts listening. Resolves with the bound port; rejects with `ListenError`. */
  listen(): Promise<{ port: number }> {
    if (this.server !== undefined) throw new Error('AdminServer.listen() called twice');
    const server = http.createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        if (status === 500) this.logger.log('warn', 'admin.request.failed', { path: req.url, error: (error as Error).message });
        const code = error instanceof HttpError && error.code !== undefined ? { code: error.code } : {};
        if (!res.headersSent) json(res, status, { error: (error as Error).message, ...code });
        else res.destroy();
      });
    });
    server.maxConnections = CONNECTIONS_MAX;
    this.server = server;
    const { host, port } = this.listenAt;
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ListenError('admin requests', formatAddress(host, port), error));
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        server.on('error', (error) => this.logger.log('error', 'admin.server.error', { error: error.message }));
        const address = server.address() as import('node:net').AddressInfo;
        this.logger.log('info', 'admin.listening', { host: address.address, port: address.port });
        resolve({ port: address.port });
      });
    });
  }

  /** Stops listening and closes every connection (a backup in progress is cut short). */
  close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    const allowed = path === '/snapshot' ? ['GET'] : ['GET', 'HEAD'];
    if (!allowed.includes(req.method ?? '')) {
      res.setHeader('Allow', allowed.join(', '));
      return json(res, 405, { error: `${req.method} is not allowed; use GET` });
    }
    const h = this.handlers;
    switch (path) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML);
      case '/metrics': {
        const { contentType, text } = await h.metrics();
        return send(res, 200, contentType, text);
      }
      case '/health': {
        const verdict = await h.health();
        return json(res, verdict.ok ? 200 : 503, verdict.ok ? { health: true } : { health: false, reason: verdict.reason });
      }
      case '/ready': {
        const r = h.ready();
        return json(res, r.ready ? 200 : 503, r);
      }
      case '/api/node':
        return json(res, 200, h.node());
      case '/api/cluster':
        return json(res, 200, await h.cluster());
      case '/snapshot':
        return h.snapshot(res);
      default:
        return json(res, 404, { error: `no such path: ${path}`, paths: ['/', '/metrics', '/health', '/ready', '/api/node', '/api/cluster', '/snapshot'] });
    }
  }
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function json(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value) + '\n');
}
