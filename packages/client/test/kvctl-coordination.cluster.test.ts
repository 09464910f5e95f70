/**
 * kvctl's lease, lock and elect commands as a user runs them: real child processes against a
 * real 3-node cluster, the long-running ones stopped with signals (by PID) as a terminal would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, KVCTL_BIN, ROOT, runNode, waitForProgress, type RunResult } from '@keel/test-support';

let cluster: Cluster | undefined;
const cacheHome = mkdtempSync(join(tmpdir(), 'keel-kvctl-coord-'));
const running = new Set<ChildProcess>();

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3 });
});

afterEach(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
});

afterAll(async () => {
  await cluster?.destroy();
  rmSync(cacheHome, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ KEEL_ENDPOINTS: cluster!.endpoints.join(','), XDG_CACHE_HOME: cacheHome });

function kvctl(args: readonly string[]): Promise<RunResult> {
  return runNode(KVCTL_BIN, args, { env: env() });
}

/** A long-running kvctl: its output so far, a wait for a pattern in it, and its exit. */
interface Background {
  readonly child: ChildProcess;
  stdout(): string;
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
}

function background(args: readonly string[]): Background {
  const child = spawn(process.execPath, [KVCTL_BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr: err })));
  return {
    child,
    stdout: () => out,
    exited,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out);
          if (m !== null) resolve(m);
          else waiters.push(check);
        };
        void exited.then(({ code, stderr }) => reject(new Error(`kvctl ${args.join(' ')} exited ${code} before printing ${pattern}: ${out} ${stderr}`)));
        check();
      }),
  };
}

describe('kvctl lease', () => {
  it('grant, put --lease, timetolive, list, keep-alive --once, revoke; exit 1 for a lease that does not exist', async () => {
    const grant = await kvctl(['lease', 'grant', '60']);
    expect(grant.code).toBe(0);
    const id = Number(/^lease (\d+) granted with TTL\(60s\)\n$/.exec(grant.stdout)![1]);
    expect((await kvctl(['put', 'svc/a', '10.0.0.1', '--lease', String(id)])).code).toBe(0);
    const ttl = await kvctl(['lease', 'timetolive', String(id), '--keys']);
    expect(ttl.code).toBe(0);
    expect(ttl.stdout).toMatch(new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[svc/a\\]\\)\\n$`));
    expect((await kvctl(['lease', 'list'])).stdout).toContain(`\n${id}\n`);
    const json = await kvctl(['--json', 'lease', 'keep-alive', String(id), '--once']);
    expect(JSON.parse(json.stdout)).toEqual({ id, ttl: 60 });
    const revoke = await kvctl(['lease', 'revoke', String(id)]);
    expect(revoke.stdout).toMatch(new RegExp(`^lease ${id} revoked \\(1 key deleted\\) revision=\\d+\\n$`));
    expect((await kvctl(['get', 'svc/a'])).code).toBe(1);

    const gone = await kvctl(['lease', 'timetolive', String(id)]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('LEASE_NOT_FOUND');
    expect((await kvctl(['lease', 'revoke', String(id)])).code).toBe(1);
    expect((await kvctl(['put', 'svc/b', 'x', '--lease', String(id)])).code).toBe(1);
    expect((await kvctl(['lease', 'grant', '1'])).code).toBe(2); // below LIMITS.leaseTtlSecondsMin
  });

  it('keep-alive renews until interrupted, and its keys expire after it stops', async () => {
    // Only the keeper's start-up stands between the grant and the first renewal (a loaded machine
    // may take seconds to start a process): the key is attached once the lease is being renewed.
    const id = Number(/lease (\d+)/.exec((await kvctl(['lease', 'grant', '5'])).stdout)![1]);
    const keeper = background(['lease', 'keep-alive', String(id)]);
    await keeper.waitFor(/lease \d+ keepalived/);
    await kvctl(['put', 'ka', 'v', '--lease', String(id)]);
    await keeper.waitFor(/(lease \d+ keepalived.*\n){5}/); // five renewals, one every third of the TTL: past one TTL
    expect((await kvctl(['get', 'ka'])).stdout).toBe('v\n');
    keeper.child.kill('SIGINT');
    expect((await keeper.exited).code).toBe(0);
    // With the keep-alives stopped, the lease expires and its key goes.
    await waitForProgress(async () => (await kvctl(['get', 'ka'])).code === 1, () => cluster!.outputLines, 'the key going with its lease');
  });
});

describe('kvctl lock and elect', () => {
  it('lock runs a command with its fencing token, passes its exit status, and is released when a holder is killed', async () => {
    const run = await kvctl(['lock', 'jobs', '--', process.execPath, '-e', 'console.log("token", process.env.KEEL_FENCING_TOKEN); process.exit(7)']);
    expect(run.code).toBe(7);
    const first = Number(/^token (\d+)$/m.exec(run.stdout)![1]);

    const holder = background(['lock', 'jobs', '--ttl', '2']);
    const held = Number((await holder.waitFor(/fencing token (\d+)\n/))[1]);
    expect(held).toBeGreaterThan(first);
    const waiter = kvctl(['lock', 'jobs', '--', process.execPath, '-e', 'console.log("token", process.env.KEEL_FENCING_TOKEN)']);
    holder.child.kill('SIGKILL'); // dies holding the lock: its lease expires, the waiter gets it
    const next = await waiter;
    expect(next.code).toBe(0);
    expect(Number(/^token (\d+)$/m.exec(next.stdout)![1])).toBeGreaterThan(held);
  });

  it('elect campaigns, observes and resigns on Ctrl-C; the next candidate leads', async () => {
    const a = background(['elect', 'svc', 'node-a']);
    await a.waitFor(/^svc\/\w+\nnode-a\n$/);
    const b = background(['elect', 'svc', 'node-b']);
    const observer = background(['elect', 'svc']);
    await observer.waitFor(/node-a\n/);
    expect(b.stdout()).toBe('');
    a.child.kill('SIGINT');
    expect((await a.exited).code).toBe(0);
    await b.waitFor(/node-b\n/);
    await observer.waitFor(/node-a\n.*\nnode-b\n/);
    b.child.kill('SIGINT');
    observer.child.kill('SIGINT');
    expect((await b.exited).code).toBe(0);
    expect((await observer.exited).code).toBe(0);
  });
});
