/** Runs a Node.js program (kvctl, the cluster CLI) as a real child process and collects what it printed. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.js';
import { trackDir } from './reaper.js';

let cacheHome: string | undefined;

/** One temp `XDG_CACHE_HOME` per test process (kvctl keeps its leader cache there), removed at exit. */
function testCacheHome(): string {
  if (cacheHome === undefined) {
    cacheHome = mkdtempSync(join(tmpdir(), 'keel-test-cache-'));
    trackDir(cacheHome);
  }
  return cacheHome;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** stdout byte for byte (binary output). */
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
}

/**
 * Runs `node <script> ...args`; `input` (if given) is written to stdin, which is then closed.
 * Unless `env` names one, `XDG_CACHE_HOME` is a temp dir of this process, so that kvctl's leader
 * cache never lands in the developer's `~/.cache`.
 */
export function runNode(
  script: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; env?: Record<string, string | undefined> } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, XDG_CACHE_HOME: testCacheHome(), ...options.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, signal, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
