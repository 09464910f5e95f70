/**
 * Runs `ip` and `iptables-restore` for the netns network: async while a network is set up or
 * torn down, synchronously where the `Network` interface is synchronous (`cut`, `heal`) and in
 * the exit hook.
 * A command that fails throws a `NetnsCommandError` with its stderr.
 */
import { spawn, spawnSync } from 'node:child_process';

/** Long enough for a loaded machine; a hung `ip` must not hang the harness. */
const COMMAND_TIMEOUT_MS = 20_000;

/** `ip` reading commands from stdin, going on past a failed one (teardown: what is gone already is fine). */
export const IP_BATCH: readonly string[] = ['ip', '-force', '-batch', '-'];

export class NetnsCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly detail: string,
  ) {
    super(`${argv.join(' ')}: ${detail}`);
  }
}

/** Runs `argv` (with `input` on stdin) and resolves with its stdout. */
export function run(argv: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.on('error', () => undefined); // the command may exit without reading it
    child.stdin.end(input ?? '');
    child.on('error', (error: NodeJS.ErrnoException) => reject(new NetnsCommandError(argv, notFound(error))));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new NetnsCommandError(argv, stderr.trim() || (signal === null ? `exit status ${code}` : `killed by ${signal}`)));
    });
  });
}

/** `run`, synchronously. */
export function runSync(argv: readonly string[], input?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: input ?? '', encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  if (r.error !== undefined) throw new NetnsCommandError(argv, notFound(r.error));
  if (r.status !== 0) throw new NetnsCommandError(argv, r.stderr.trim() || (r.signal === null ? `exit status ${r.status}` : `killed by ${r.signal}`));
  return r.stdout;
}

function notFound(error: NodeJS.ErrnoException): string {
  return error.code === 'ENOENT' ? 'not found (install it: apt-get install iproute2 iptables)' : error.message;
}
