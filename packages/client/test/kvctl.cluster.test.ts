/**
 * kvctl as a user runs it: real child processes against a real 3-node cluster, checking output
 * and the documented exit statuses (0 ok, 1 not found / not swapped, 2 usage, 3 unavailable).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { Cluster, KVCTL_BIN, freePort, runNode, type RunResult } from '@keel/test-support';

let cluster: Cluster | undefined;

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3 });
});

afterAll(async () => {
  await cluster?.destroy();
});

function kvctl(args: readonly string[], input?: string): Promise<RunResult> {
  // Endpoints through the environment, as a user would export them.
  return runNode(KVCTL_BIN, args, { env: { KEEL_ENDPOINTS: cluster!.endpoints.join(',') }, ...(input !== undefined ? { input } : {}) });
}

describe('kvctl', () => {
  it('put, get, del with exit statuses 0 and 1', async () => {
    const put = await kvctl(['put', 'greeting', 'hello world']);
    expect(put).toMatchObject({ code: 0 });
    expect(put.stdout).toMatch(/^OK revision=\d+\n$/);
    const get = await kvctl(['get', 'greeting']);
    expect(get).toMatchObject({ code: 0, stdout: 'hello world\n' });
    const missing = await kvctl(['get', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('not found');
    const del = await kvctl(['del', 'greeting']);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/^deleted revision=\d+\n$/);
    expect((await kvctl(['get', 'greeting'])).code).toBe(1);
    expect((await kvctl(['delete', 'greeting'])).stdout).toMatch(/^not found/);
  });

  it('reads the value from stdin with "-" or when it is omitted', async () => {
    expect((await kvctl(['put', 'from-stdin', '-'], 'line one\nline two')).code).toBe(0);
    expect((await kvctl(['get', 'from-stdin'])).stdout).toBe('line one\nline two\n');
    expect((await kvctl(['put', 'implicit'], 'piped')).code).toBe(0);
    expect((await kvctl(['get', 'implicit'])).stdout).toBe('piped\n');
  });

  it('cas: exit 0 when swapped, 1 when the condition is false', async () => {
    await kvctl(['put', 'lock', 'free']);
    const no = await kvctl(['cas', 'lock', 'mine', '--expect-value', 'taken']);
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(/^not swapped/);
    const yes = await kvctl(['cas', 'lock', 'mine', '--expect-value', 'free']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/^swapped revision=\d+/);
    const revision = Number(/revision=(\d+)/.exec(yes.stdout)![1]);
    expect((await kvctl(['cas', 'lock', 'again', '--expect-revision', String(revision)])).code).toBe(0);
    expect((await kvctl(['cas', 'new-key', 'v', '--expect-absent'])).code).toBe(0);
    expect((await kvctl(['cas', 'new-key', 'v', '--expect-absent'])).code).toBe(1);
    expect((await kvctl(['get', 'lock'])).stdout).toBe('again\n');
  });

  it('scan prints key<TAB>value lines in key order; --json gives machine output', async () => {
    for (const [k, v] of [
      ['fruit/banana', 'yellow'],
      ['fruit/apple', 'red'],
      ['vegetable/kale', 'green'],
    ]) {
      expect((await kvctl(['put', k!, v!])).code).toBe(0);
    }
    const scan = await kvctl(['scan', 'fruit/']);
    expect(scan).toMatchObject({ code: 0, stdout: 'fruit/apple\tred\nfruit/banana\tyellow\n' });
    const json = await kvctl(['--json', 'scan', 'fruit/', '--limit', '1']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { entries: { key: string; value: string }[]; more: boolean };
    expect(parsed.entries.map((e) => [e.key, e.value])).toEqual([['fruit/apple', 'red']]);
    expect(parsed.more).toBe(true);
    const get = JSON.parse((await kvctl(['get', 'fruit/apple', '--json'])).stdout) as Record<string, unknown>;
    expect(get).toMatchObject({ found: true, key: 'fruit/apple', value: 'red' });
    expect(typeof get['revision']).toBe('number');
    const missing = await kvctl(['get', 'fruit/cherry', '--json', '--consistency', 'serializable']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ found: false, key: 'fruit/cherry' });
  });

  it('status shows every node in a table, or as JSON', async () => {
    const table = await kvctl(['status']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ENDPOINT\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED/);
    expect(lines).toHaveLength(4);
    expect(lines.filter((l) => /\bleader\b/.test(l.split(/\s+/)[2] ?? ''))).toHaveLength(1);
    const json = JSON.parse((await kvctl(['status', '--json'])).stdout) as { ok: boolean; id: number; role: string }[];
    expect(json.map((s) => s.ok)).toEqual([true, true, true]);
    expect(json.map((s) => s.id).sort()).toEqual([1, 2, 3]);
    const members = await kvctl(['member', 'list']);
    expect(members.code).toBe(0);
    expect(members.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect(members.stdout).toMatch(/\d\*/); // the leader is marked
  });

  it("txn: reads etcdctl's format from stdin; exit 0 when the compares held, 1 when not, 2 for a syntax error", async () => {
    await kvctl(['put', 'txn/lock', 'free']);
    await kvctl(['put', 'txn/config', 'a config']);
    const input = ['value("txn/lock") = "free"', 'version("txn/new") = "0"', '', 'put txn/lock "held by me"', 'get txn/config', 'get txn/ txn0', '', 'get txn/lock', ''].join('\n');
    const yes = await kvctl(['txn'], input);
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/^SUCCESS revision=\d+\n\nOK\n\ntxn\/config\ta config\n\ntxn\/config\ta config\ntxn\/lock\theld by me\n$/);
    expect(yes.stderr).toBe(''); // no prompts: stdin is not a terminal
    const no = await kvctl(['--json', 'txn'], input);
    expect(no.code).toBe(1);
    const json = JSON.parse(no.stdout) as { succeeded: boolean; results: Array<{ op: string; entry: { value: string } }> };
    expect(json.succeeded).toBe(false);
    expect(json.results).toMatchObject([{ op: 'get', entry: { key: 'txn/lock', value: 'held by me' } }]);
    // Deletes, ranges and previous entries; the end of input ends the last section.
    const del = await kvctl(['txn'], 'mod("txn/lock") > "0"\n\ndel txn/ --prefix --prev-kv');
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/^SUCCESS revision=\d+\n\n2\ntxn\/config\ta config\ntxn\/lock\theld by me\n$/);
    for (const bad of ['value(txn/lock) = "x"', 'size("k") = "1"', 'mod("k") > "one"', 'value("k") ~ "v"', '\nfrobnicate k', '\nput k', '\nget "unterminated']) {
      const r = await kvctl(['txn'], bad);
      expect(r.code, `${JSON.stringify(bad)}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^kvctl: (compare|request) /);
    }
  });

  it('txn: prompts for each section when stdin is a terminal', async () => {
    let stdout = '';
    let stderr = '';
    const cacheHome = mkdtempSync(join(tmpdir(), 'kvctl-tty-'));
    const status = await runCli(['--endpoints', cluster!.endpoints.join(','), 'txn'], {
      stdout: { write: (c: string | Uint8Array) => (stdout += c.toString()) },
      stderr: { write: (c: string) => (stderr += c) },
      stdin: {
        isTTY: true,
        [Symbol.asyncIterator]: async function* () {
          yield 'version("tty/k") = "0"\n';
          yield '\n';
          yield 'put tty/k "typed at a terminal"\n\n';
          yield '\n';
        },
      },
      env: { XDG_CACHE_HOME: cacheHome },
    }).finally(() => rmSync(cacheHome, { recursive: true, force: true }));
    expect(status, stderr).toBe(0);
    expect(stderr).toBe('compares:\n\nsuccess requests (get, put, del):\n\nfailure requests (get, put, del):\n');
    expect(stdout).toMatch(/^SUCCESS revision=\d+\n\nOK\n$/);
    expect((await kvctl(['get', 'tty/k'])).stdout).toBe('typed at a terminal\n');
  });

  it('bad usage exits 2 without contacting the cluster', async () => {
    for (const args of [
      ['get'],
      ['frobnicate'],
      ['cas', 'k', 'v'],
      ['txn', 'extra-argument'],
      ['scan', '--limit', 'lots'],
      ['--consistency', 'eventual', 'get', 'k'],
      ['put', '', 'empty key'],
      ['member', 'remove', 'zero'],
    ]) {
      const r = await kvctl(args);
      expect(r.code, `kvctl ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    expect((await kvctl(['--help'])).code).toBe(0);
    expect((await kvctl(['--help'])).stdout).toContain('Exit status');
  });

  it("pointed at a node's peer port fails at once with the server's WRONG_PORT message naming the client port (exit 2)", async () => {
    // Issue 9 item 7 end to end: the peer port answers a client request with an id -1 error frame
    // (server side), and the client fails the operation with it instead of retrying until the
    // deadline (here ten minutes, far beyond the test's own timeout) and ending INDETERMINATE.
    const node = cluster!.node(1);
    for (const args of [
      ['put', 'k', 'v'],
      ['--json', 'get', 'k'],
    ]) {
      const r = await runNode(KVCTL_BIN, ['--endpoints', node.peerAddress, '--timeout', '600000', ...args]);
      expect(r.code, r.stderr).toBe(2);
      const message = `this is a peer port; the client port is ${node.clientAddress}`;
      if (args[0] === '--json') {
        const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; definite: boolean } };
        expect(error).toMatchObject({ code: 'WRONG_PORT', definite: true });
        expect(error.message).toContain(message);
      } else {
        expect(r.stderr).toMatch(/^kvctl: WRONG_PORT: /);
        expect(r.stderr).toContain(message);
      }
    }
  });

  it('unreachable cluster exits 3, also with --json', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const r = await runNode(KVCTL_BIN, ['--endpoints', nobody, '--timeout', '500', 'put', 'k', 'v']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('UNAVAILABLE');
    const j = await runNode(KVCTL_BIN, ['--endpoints', nobody, '--timeout', '500', '--json', 'get', 'k']);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'UNAVAILABLE', definite: true } });
    const s = await runNode(KVCTL_BIN, ['--endpoints', nobody, 'status']);
    expect(s.code).toBe(3);
    expect(s.stdout).toContain('unreachable');
  });
});
