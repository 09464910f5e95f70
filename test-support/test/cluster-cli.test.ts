/**
 * `pnpm cluster` as a user runs it: start it, use kvctl against it, interrupt it and start it
 * again on its data; commands typed on its stdin and --restart-crashed; --fresh refused while a
 * node holds the data dir; and Ctrl-C on a terminal through `npx --yes pnpm@10 cluster`, which
 * must end with exit status 0 and no pnpm error once every node has stopped cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_CLI, KVCTL_BIN, NodeProcess, ROOT, TEST_TUNING, freeBasePort, freePorts, isAlive, runNode, treeCpuTicks, waitForProgress } from '@keel/test-support';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A running program and everything it printed (stdout and stderr together). */
class Running {
  output = '';
  readonly exited: Promise<number | null>;
  /** Every pid the output mentions as a node's, for cleanup and checks. */
  readonly pids = new Set<number>();

  constructor(readonly child: ChildProcess) {
    const collect = (d: Buffer): void => {
      this.output += d.toString();
      for (const m of this.output.matchAll(/\bn\d+=(\d+)|\(pid (\d+)\)/g)) this.pids.add(Number(m[1] ?? m[2]));
    };
    child.stdout!.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const pid of this.pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    });
  }

  /**
   * Waits until the output matches `pattern` after position `from`, while the program prints or
   * works (npx and `tsc -b` print nothing while they work); fails when it exits first.
   */
  waitFor(pattern: RegExp, from = 0): Promise<RegExpExecArray> {
    return waitForProgress(
      () => {
        const m = pattern.exec(this.output.slice(from));
        if (m === null && this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before printing ${pattern}:\n${this.output.slice(-5000)}`);
        return m;
      },
      () => [this.output.length, treeCpuTicks(this.child.pid!)],
      () => `${pattern} printed:\n${this.output.slice(-5000)}`,
    );
  }

  /** Types `line` and waits for the answer matching `answer`. */
  async type(line: string, answer: RegExp): Promise<RegExpExecArray> {
    const from = this.output.length;
    this.child.stdin!.write(`${line}\n`);
    return this.waitFor(answer, from);
  }

  /**
   * Waits for the whole ready banner: it is written at once, but can arrive in pieces (through a
   * pipe or a terminal), so its first line does not mean the pids line is there yet.
   */
  waitForBanner(): Promise<RegExpExecArray> {
    return this.waitFor(/Keel cluster ready[\s\S]*?stops the cluster;[^\n]*\n/);
  }

  /** The node pids of the ready banner (after waitForBanner). */
  bannerPids(): number[] {
    const line = /pids:\s+(.*)/.exec(this.output)?.[1] ?? '';
    return [...line.matchAll(/n\d+=(\d+)/g)].map((m) => Number(m[1]));
  }
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cluster-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Arguments for a 3-node cluster on a base port whose client (base..base+2), peer (base+100..) and admin ports (base+200..) are free now. */
async function clusterArgs(dataDir: string): Promise<{ args: string[]; endpoints: string; admins: string[] }> {
  const base = await freeBasePort([0, 1, 2, 100, 101, 102, 200, 201, 202]);
  const endpoints = [0, 1, 2].map((i) => `127.0.0.1:${base + i}`).join(',');
  const admins = [0, 1, 2].map((i) => `127.0.0.1:${base + 200 + i}`);
  return { args: ['--base-port', String(base), '--data-dir', dataDir], endpoints, admins };
}

function startCli(args: readonly string[], stdin: 'pipe' | 'ignore' = 'ignore'): Running {
  return new Running(spawn(process.execPath, [CLUSTER_CLI, ...args], { cwd: ROOT, stdio: [stdin, 'pipe', 'pipe'] }));
}

describe('pnpm cluster', () => {
  it('starts a cluster, serves kvctl, and stops every node on SIGINT; data persists without --fresh', async () => {
    const { args, endpoints, admins } = await clusterArgs(tempDir());

    const first = startCli([...args, '--fresh']);
    await first.waitForBanner();
    const pids = first.bannerPids();
    expect(pids).toHaveLength(3);
    expect(first.output).toContain(`--endpoints ${endpoints}`);
    // Every node's admin listener is on at base+200+i-1, printed with the dashboard's address.
    expect(first.output).toContain(`admin:     ${admins.map((a, i) => `n${i + 1}=http://${a}`).join(' ')}`);
    expect(first.output).toContain(`dashboard: http://${admins[0]}/`);
    for (const admin of admins) expect((await fetch(`http://${admin}/health`)).status).toBe(200);

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
    const second = startCli(args);
    await second.waitForBanner();
    const secondPids = second.bannerPids();
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

  it('--tls runs every link over TLS and prints the kvctl flags that work; plaintext kvctl is refused', async () => {
    const { args, endpoints } = await clusterArgs(join(tempDir(), 'data'));
    const cli = startCli([...args, '--fresh', '--tls', '--log-level', 'warn']);
    await cli.waitForBanner();
    const pids = cli.bannerPids();
    // The example put, exactly as printed: its kvctl flags are the ones to use.
    const printed = /npx kvctl (.*) put hello world/.exec(cli.output)?.[1];
    expect(printed, cli.output).toMatch(/--cacert \S+ca\.pem --cert \S+client\.pem --key \S+client\.key$/);
    const flags = printed!.split(' ');
    expect(await runNode(KVCTL_BIN, [...flags, 'put', 'secret', 'yes'])).toMatchObject({ code: 0 });
    expect(await runNode(KVCTL_BIN, [...flags, 'get', 'secret'])).toMatchObject({ code: 0, stdout: 'yes\n' });
    const plain = await runNode(KVCTL_BIN, ['--endpoints', endpoints, 'get', 'secret']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^kvctl: TLS_FAILED: .*requires TLS/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    for (const pid of pids) expect(isAlive(pid), `node pid ${pid} still running`).toBe(false);
  });

  it('takes status, stop, kill, start and restart on stdin, and restarts a node that crashed with --restart-crashed', async () => {
    const { args } = await clusterArgs(join(tempDir(), 'data'));
    const cli = startCli([...args, '--fresh', '--restart-crashed', '--log-level', 'warn'], 'pipe');
    await cli.waitForBanner();
    const [p1, p2, p3] = cli.bannerPids();

    const table = await cli.type('status', /ID\s+PID\s+STATE\s+ROLE[^\n]*\n(?:.*\n){3}/);
    for (const [id, pid] of [[1, p1], [2, p2], [3, p3]]) expect(table[0]).toMatch(new RegExp(`\\n${id}\\s+${pid}\\s+running\\s+(leader|follower)\\s`));

    const restarted = await cli.type('restart 2', /node 2 restarted \(pid (\d+)\)/);
    expect(Number(restarted[1])).not.toBe(p2);
    expect(isAlive(p2!)).toBe(false);

    // A crash (not asked for): reported, and the node is started again.
    let from = cli.output.length;
    process.kill(p3!, 'SIGKILL');
    await cli.waitFor(new RegExp(`node 3 \\(pid ${p3}\\) exited \\(SIGKILL\\)`), from);
    const back = await cli.waitFor(/node 3 restarted \(pid (\d+)\)/, from);
    expect(isAlive(Number(back[1]))).toBe(true);

    // A kill that was asked for is not a crash: no restart.
    from = cli.output.length;
    await cli.type('kill 1', /node 1 killed \(SIGKILL\)/);
    expect(cli.output.slice(from)).not.toMatch(/restarting node 1/);
    await cli.type('status', /\n1\s+-\s+stopped\s/);
    await cli.type('start 1', /node 1 started \(pid \d+\)/);
    await cli.type('stop 2', /node 2 stopped \(status 0\)/);
    await cli.type('start 2', /node 2 started \(pid \d+\)/);
    await cli.type('restart 9', /no node 9 \(nodes: 1, 2, 3\)/);
    await cli.type('frobnicate', /unknown command "frobnicate"; commands: status \| stop <id>/);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    for (const pid of cli.pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(cli.output).toMatch(/n3 \(pid \d+\) stopped \(status 0\)/);
  });

  it('--fresh deletes nothing while a running node holds a node dir, and names the process', async () => {
    const dataDir = join(tempDir(), 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'cluster.json'), '{"nodes":3,"basePort":7001}\n');
    // A keel-server of another cluster (on other ports) holds node 2's data dir.
    const [peerPort, clientPort] = await freePorts(2);
    const holder = NodeProcess.spawn({
      label: 'holder',
      args: ['--id', '2', '--data-dir', join(dataDir, 'node-2'), '--initial-cluster', `2=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`, ...TEST_TUNING],
    });
    cleanups.push(async () => {
      await holder.kill('SIGKILL');
    });
    await holder.waitForLog((l) => l.event === 'node.started');
    const cli = startCli([...(await clusterArgs(dataDir)).args, '--fresh']);
    expect(await cli.exited).toBe(1);
    expect(cli.output).toBe(
      `cluster: --fresh refused: ${join(dataDir, 'node-2')} is in use by pid ${holder.pid}; stop that process first (nothing was deleted)\n`,
    );
    expect(existsSync(join(dataDir, 'cluster.json'))).toBe(true);
    expect(holder.running).toBe(true);
    expect(existsSync(join(dataDir, 'node-2', 'db', 'CURRENT'))).toBe(true);
  });

  // npx, pnpm and its `tsc -b` take what they take on a loaded machine: the waits fail when
  // nothing moves, and the test's own bound is only a backstop for a hang they do not see.
  it('Ctrl-C on a terminal stops every node and `npx --yes pnpm@10 cluster` exits 0 without a pnpm error', { timeout: 600_000 }, async () => {
    const { args } = await clusterArgs(join(tempDir(), 'data'));
    // `script` gives the command a terminal, as a user has; its stdin becomes the keyboard.
    const command = ['npx', '--yes', 'pnpm@10', 'cluster', ...args, '--fresh'].join(' ');
    const cli = new Running(spawn('script', ['-q', '-e', '-f', '-c', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
    cli.child.on('error', (error) => {
      throw new Error(`cannot run \`script\` (util-linux) to give pnpm cluster a terminal: ${error.message}`);
    });
    await cli.waitForBanner();
    const pids = cli.bannerPids();
    expect(pids).toHaveLength(3);
    cli.child.stdin!.write('\x03'); // Ctrl-C
    expect(await cli.exited).toBe(0);
    expect(cli.output).toMatch(/SIGINT received; stopping 3 node\(s\)/);
    for (const id of [1, 2, 3]) expect(cli.output).toMatch(new RegExp(`n${id} \\(pid \\d+\\) stopped \\(status 0\\)`));
    expect(cli.output).not.toMatch(/ELIFECYCLE|Command failed/);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
  });
});
