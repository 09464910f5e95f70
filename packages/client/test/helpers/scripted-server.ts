/**
 * A scripted node for client tests: a real TCP server speaking the real client protocol
 * (@keel/protocol framing), whose answers the test decides. It lets a test produce exact
 * situations (a redirect, a crash after a write was received, silence) that a real cluster only
 * produces by chance. The end-to-end behaviour is tested against real keel-server processes in
 * the *.cluster.test.ts files.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { FrameDecoder, NO_REQUEST_ID, encodeFrames, validateClientRequest } from '@keel/protocol';
import type { ClientRequest, ClientResponse, WireError } from '@keel/protocol';

/** What the script does with a request. */
export type Script = (request: ClientRequest, conn: ScriptedConnection) => void;

export interface ScriptedConnection {
  reply(response: ClientResponse): void;
  /** Closes the connection at once (like a crashed process: the kernel resets it). */
  destroy(): void;
  /**
   * Answers the connection itself, as keel-server does when it refuses one (id `NO_REQUEST_ID`),
   * then half-closes and ignores whatever else arrives.
   */
  refuse(error: WireError): void;
}

/** Called for each accepted connection before any request is read (e.g. to refuse it). */
export type OnConnect = (conn: ScriptedConnection) => void;

export class ScriptedServer {
  readonly requests: ClientRequest[] = [];
  connections = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(
    private script: Script,
    private readonly onConnect?: OnConnect,
  ) {
    this.server = createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      const decoder = new FrameDecoder({ copyBuffers: true });
      let refused = false;
      const conn: ScriptedConnection = {
        reply: (response) => {
          if (!socket.destroyed) socket.write(encodeFrames([response]));
        },
        destroy: () => socket.destroy(),
        refuse: (error) => {
          refused = true;
          if (!socket.destroyed) socket.end(encodeFrames([{ id: NO_REQUEST_ID, ok: false, error }]));
        },
      };
      this.onConnect?.(conn);
      socket.on('data', (chunk) => {
        if (refused) return;
        decoder.push(chunk, (value) => {
          const request = validateClientRequest(value);
          this.requests.push(request);
          this.script(request, conn);
        });
      });
    });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  setScript(script: Script): void {
    this.script = script;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    this.port = address.port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
