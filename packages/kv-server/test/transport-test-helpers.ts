/** Shared by the transport and client-port tests: a recording logger, raw framed sockets, and how much they have seen. */
import net from 'node:net';
import { FrameDecoder, encodeFrame } from '@keel/protocol';
import type { Logger, LogLevel } from '@keel/raft';
import { ClientPortServer, type ClientPortOptions } from '../src/client-port/index.js';

export interface LogRecord {
  level: LogLevel;
  event: string;
  fields: Record<string, unknown>;
}

let seen = 0;

/**
 * How many things this test process has seen happen so far: records logged to a recording logger,
 * frames and closes on raw sockets. The progress the transport and client-port tests hand
 * `waitForProgress` (from `@keel/test-support`): the servers under test run in this process, so
 * when none of this moves for the stall period, they stand still.
 */
export const activity = (): number => seen;

/** A logger that keeps every record (set KEEL_TEST_LOG=1 to also print them). */
export function recordingLogger(name: string): Logger & { records: LogRecord[]; has(event: string, level?: LogLevel): boolean } {
  const records: LogRecord[] = [];
  return {
    records,
    log(level, event, fields = {}) {
      records.push({ level, event, fields });
      seen++;
      if (process.env['KEEL_TEST_LOG'] === '1') console.log(JSON.stringify({ node: name, level, event, ...fields }));
    },
    has(event, level) {
      return records.some((r) => r.event === event && (level === undefined || r.level === level));
    },
  };
}

/** A raw TCP client that speaks frames, for poking servers with good and bad bytes. */
export class RawFrameSocket {
  readonly frames: unknown[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder();
  decodeError: Error | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (v) => {
          this.frames.push(v);
          seen++;
        });
      } catch (error) {
        this.decodeError = error as Error;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      seen++;
    });
  }

  static connect(port: number): Promise<RawFrameSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawFrameSocket(socket));
      });
    });
  }

  send(value: unknown): void {
    this.socket.write(encodeFrame(value));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** What a test undoes after itself, last first. */
export type Cleanup = Array<() => Promise<void> | void>;

/** A client port on a free 127.0.0.1 port with a recording logger, closed by `cleanup`. */
export async function startClientPort(cleanup: Cleanup, name: string, handle: ClientPortOptions['handle'], extra: Partial<ClientPortOptions> = {}) {
  const logger = recordingLogger(name);
  const server = new ClientPortServer({ host: '127.0.0.1', port: 0, logger, handle, ...extra });
  cleanup.push(() => server.close());
  const { port } = await server.listen();
  return { server, port, logger };
}

/** A raw frame connection to `port`, destroyed by `cleanup`. */
export async function connectRaw(cleanup: Cleanup, port: number): Promise<RawFrameSocket> {
  const socket = await RawFrameSocket.connect(port);
  cleanup.push(() => socket.destroy());
  return socket;
}
