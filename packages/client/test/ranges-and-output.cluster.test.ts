/**
 * Issue 9, item 10 end to end, against a real 3-node cluster: range deletes and previous entries
 * through the client library, and kvctl keeping every byte (binary values in through --file or
 * stdin and out through --raw; ranges and prefixes deleted with --prev-kv; counts; fields output
 * for keys with tabs and newlines). kvctl runs as a real child process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeelClient } from '@keel/client';
import { Cluster, KVCTL_BIN, runNode, type RunResult } from '@keel/test-support';

let cluster: Cluster | undefined;
let client: KeelClient | undefined;
let dir: string | undefined;

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3 });
  client = cluster.client({ timeoutMs: 10_000 });
  dir = mkdtempSync(join(tmpdir(), 'keel-kvctl-bytes-'));
});

afterAll(async () => {
  await cluster?.destroy();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function kvctl(args: readonly string[], input?: string | Uint8Array): Promise<RunResult> {
  return runNode(KVCTL_BIN, args, {
    env: { KEEL_ENDPOINTS: cluster!.endpoints.join(','), XDG_CACHE_HOME: join(dir!, 'cache') },
    ...(input !== undefined ? { input } : {}),
  });
}

const keysOf = async (prefix: string): Promise<string[]> => (await client!.scan({ prefix })).entries.map((e) => e.keyText);

describe('range deletes and previous entries (library)', () => {
  it('put and delete return what they replaced when asked', async () => {
    const c = client!;
    expect((await c.put('pk', 'one', { prevKv: true })).prevKv).toBeNull();
    const second = await c.put('pk', 'two', { prevKv: true });
    expect(second.prevKv?.text).toBe('one');
    expect((await c.put('pk', 'three')).prevKv).toBeUndefined();
    const del = await c.delete('pk', { prevKv: true });
    expect(del).toMatchObject({ deleted: true });
    expect([del.prevKv?.text, del.prevKv?.revision]).toEqual(['three', del.revision - 1]);
  });

  it('deleteRange removes a prefix, a [start, end) range, or everything from a key, atomically', async () => {
    const c = client!;
    for (const k of ['r/a', 'r/b', 'r/c', 'r/d', 'r0', 'q']) await c.put(k, k.toUpperCase());
    const range = await c.deleteRange({ start: 'r/b', end: 'r/d' }, { prevKv: true });
    expect(range.deleted).toBe(2);
    expect(range.prevKvs?.map((e) => [e.keyText, e.text])).toEqual([
      ['r/b', 'R/B'],
      ['r/c', 'R/C'],
    ]);
    expect(await keysOf('r')).toEqual(['r/a', 'r/d', 'r0']);
    expect(await c.deleteRange({ prefix: 'r/' })).toEqual({ revision: expect.any(Number), deleted: 2 });
    expect(await keysOf('r')).toEqual(['r0']);
    expect((await c.deleteRange({ start: 'r' })).deleted).toBeGreaterThanOrEqual(1); // r0 and everything after
    expect(await keysOf('r')).toEqual([]);
    expect(await c.get('q')).not.toBeNull();
    await expect(c.deleteRange({} as never)).rejects.toThrow(TypeError);
  });
});

describe('kvctl keeps every byte (item 10)', () => {
  it('a binary file goes in with --file or stdin and comes out byte for byte with get --raw', async () => {
    const bytes = randomBytes(64 * 1024);
    const file = join(dir!, 'blob.bin');
    writeFileSync(file, bytes);
    expect((await kvctl(['put', 'blob', '--file', file])).code).toBe(0);
    const raw = await kvctl(['get', 'blob', '--raw']);
    expect(raw.code).toBe(0);
    expect(raw.stdoutBytes.equals(bytes)).toBe(true); // kvctl get blob --raw | cmp - blob.bin
    expect((await kvctl(['put', 'blob2'], bytes)).code).toBe(0);
    expect((await kvctl(['get', 'blob2', '--raw'])).stdoutBytes.equals(bytes)).toBe(true);
    // simple output adds one newline and nothing else; json carries base64
    expect((await kvctl(['get', 'blob'])).stdoutBytes.equals(Buffer.concat([bytes, Buffer.from('\n')]))).toBe(true);
    const json = JSON.parse((await kvctl(['-w', 'json', 'get', 'blob'])).stdout) as { value: { base64: string } };
    expect(Buffer.from(json.value.base64, 'base64').equals(bytes)).toBe(true);
    expect((await kvctl(['get', 'blob', '--raw', '-w', 'json'])).code).toBe(2);
    // compare-and-swap against a binary value
    const next = join(dir!, 'next.bin');
    writeFileSync(next, randomBytes(1000));
    expect((await kvctl(['cas', 'blob', 'x', '--expect-value-file', next])).code).toBe(1);
    expect((await kvctl(['cas', 'blob', '--file', next, '--expect-value-file', file])).code).toBe(0);
    expect((await kvctl(['get', 'blob', '--raw'])).stdoutBytes.equals(readFileSync(next))).toBe(true);
    expect((await kvctl(['cas', 'blob', 'x', '--expect-value-file', join(dir!, 'missing')])).code).toBe(2);
  });

  it('fields and hex output show keys and values with tabs and newlines unambiguously', async () => {
    expect((await kvctl(['put', 'odd\tkey\n'], 'line 1\nline\t2')).code).toBe(0);
    const fields = await kvctl(['-w', 'fields', 'scan', 'odd']);
    expect(fields.code).toBe(0);
    expect(fields.stdout).toContain('"Key" : "odd\\tkey\\n"\n"Value" : "line 1\\nline\\t2"\n');
    const hex = await kvctl(['--hex', 'scan', 'odd', '--keys-only']);
    expect(hex.stdout).toBe('\\x6f\\x64\\x64\\x09\\x6b\\x65\\x79\\x0a\n');
    const table = await kvctl(['-w', 'table', 'get', 'odd\tkey\n']);
    expect(table.stdout.split('\n')[1]).toMatch(/^odd\\tkey\\n\s+line 1\\nline\\t2\s+\d+\s+\d+\s+1$/); // revision, create revision, version
  });

  it('del deletes a key, a range or a prefix, printing what it deleted with --prev-kv; scan --count-only counts', async () => {
    for (const k of ['d/1', 'd/2', 'd/3', 'd/4', 'e']) expect((await kvctl(['put', k, `v${k}`])).code).toBe(0);
    expect((await kvctl(['scan', 'd/', '--count-only'])).stdout).toBe('4\n');
    expect(JSON.parse((await kvctl(['--json', 'scan', '--count-only', '--start', 'd/2', '--end', 'd/4'])).stdout)).toEqual({ count: 2 });

    const one = await kvctl(['del', 'd/1', '--prev-kv']);
    expect(one.stdout).toMatch(/^deleted revision=\d+\nd\/1\tvd\/1\n$/);
    const range = await kvctl(['del', 'd/2', 'd/4', '--prev-kv']);
    expect(range.stdout).toMatch(/^deleted 2 keys revision=\d+\nd\/2\tvd\/2\nd\/3\tvd\/3\n$/);
    const prefix = JSON.parse((await kvctl(['--json', 'del', 'd/', '--prefix', '--prev-kv'])).stdout) as { deleted: number; prevKvs: { key: string }[] };
    expect(prefix).toMatchObject({ deleted: 1, prevKvs: [{ key: 'd/4', value: 'vd/4' }] });
    expect((await kvctl(['scan', 'd/', '--count-only'])).stdout).toBe('0\n');
    expect((await kvctl(['get', 'e'])).stdout).toBe('ve\n');
    const put = await kvctl(['put', 'e', 'new', '--prev-kv']);
    expect(put.stdout).toMatch(/^OK revision=\d+\ne\tve\n$/);
    expect((await kvctl(['del', 'a', 'b', '--prefix'])).code).toBe(2);
  });
});
