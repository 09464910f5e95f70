/**
 * `pnpm cluster` (test-support/src/cli) as a user runs it: start it, wait for the ready banner,
 * use kvctl against it, interrupt it, and check that every node process is gone.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_CLI, KVCTL_BIN, ROOT, freeBasePort, isAlive, requireBuilt } from '@keel/test-support';
import { runNode } from './helpers/run.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A base port whose client ports (base..base+n-1) and peer ports (base+100..) are free now. */

interface Running {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
}

function startScript(args: string[]): Running {
  const child = spawn(process.execPath, [CLUSTER_CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const running: Running = {
    child,
    output: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (d: Buffer) => (running.output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (running.output += d.toString()));
  return running;
}

async function waitFor(running: Running, pattern: RegExp, timeoutMs = 45_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(running.output);
    if (m !== null) return m;
    if (running.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`cluster script never printed ${pattern}:\n${running.output.slice(-5000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pidsOf(output: string): number[] {
  const line = /pids:\s+(.*)/.exec(output)?.[1] ?? '';
  return [...line.matchAll(/n\d+=(\d+)/g)].map((m) => Number(m[1]));
}

describe('pnpm cluster', () => {
  it('starts a cluster, serves kvctl, and stops every node on SIGINT; data persists without --fresh', async () => {
    requireBuilt();
    const dataDir = mkdtempSync(join(tmpdir(), 'keel-cluster-script-'));
    const pids: number[] = [];
    cleanups.push(() => {
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    });
    const base = await freeBasePort([0, 1, 2, 100, 101, 102]); // client ports base+i, peer ports base+100+i
    const endpoints = [0, 1, 2].map((i) => `127.0.0.1:${base + i}`).join(',');
    const args = ['--base-port', String(base), '--data-dir', dataDir];

    const first = startScript([...args, '--fresh']);
    cleanups.push(() => void (first.child.exitCode === null && first.child.kill('SIGKILL')));
    await waitFor(first, /Keel cluster ready/);
    pids.push(...pidsOf(first.output));
    expect(pids).toHaveLength(3);
    expect(first.output).toContain(`--endpoints ${endpoints}`);

    expect((await runNode(KVCTL_BIN, ['--endpoints', endpoints, 'put', 'persisted', 'yes'])).code).toBe(0);
    const status = await runNode(KVCTL_BIN, ['--endpoints', endpoints, 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('leader');

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    for (const pid of pids) expect(isAlive(pid), `node pid ${pid} still running`).toBe(false);
    // The nodes' logs were streamed with a node prefix.
    expect(first.output).toMatch(/n1 │ /);

    // Restart on the same data dir, without --fresh: the key is still there.
    const second = startScript(args);
    cleanups.push(() => void (second.child.exitCode === null && second.child.kill('SIGKILL')));
    await waitFor(second, /Keel cluster ready/);
    const secondPids = pidsOf(second.output);
    pids.push(...secondPids);
    const got = await runNode(KVCTL_BIN, ['--endpoints', endpoints, 'get', 'persisted']);
    expect(got).toMatchObject({ code: 0, stdout: 'yes\n' });

    // A second cluster on the same ports is refused with a clear message.
    const clash = await runNode(CLUSTER_CLI, [...args]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/already in use/);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    for (const pid of secondPids) expect(isAlive(pid), `node pid ${pid} still running`).toBe(false);
  });
});
