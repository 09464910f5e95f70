/**
 * `GET /snapshot` on a real keel-server: a download holds a LevelDB snapshot for as long as it
 * lasts, so a node serves at most BACKUPS_AT_ONCE_MAX at once (the next gets 429 OVERLOADED) and
 * cuts off a download whose client takes nothing for `--backup-stall-ms`, releasing its slot.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, KVCTL_BIN, runNode, waitForProgress } from '@keel/test-support';
import { BACKUPS_AT_ONCE_MAX } from '../src/admin/node-admin.js';

let cluster: Cluster | undefined;
const dirs: string[] = [];
const held: http.ClientRequest[] = [];
afterEach(async () => {
  for (const r of held.splice(0)) r.destroy();
  await cluster?.destroy();
  cluster = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A download that reads the status and headers, then nothing (until `readRest`): the node's writes back up. */
interface StalledDownload {
  readonly status: number;
  /** The body of a refusal. */
  readonly text: Promise<string>;
  /** Reads the rest of the body: its bytes, and whether the response ended whole (`complete`). */
  readRest(): Promise<{ readonly bytes: number; readonly complete: boolean }>;
}

function stalledDownload(address: string): Promise<StalledDownload> {
  return new Promise((resolve, reject) => {
    const req = http.get(`http://${address}/snapshot`, (res) => {
      const chunks: Buffer[] = [];
      res.pause();
      const rest = new Promise<{ bytes: number; complete: boolean }>((r) => {
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', () => undefined); // a cut shows as an incomplete response
        res.on('close', () => r({ bytes: chunks.reduce((n, c) => n + c.length, 0), complete: res.complete }));
      });
      resolve({
        status: res.statusCode!,
        text: res.statusCode === 200 ? Promise.resolve('') : (res.resume(), rest.then(() => Buffer.concat(chunks).toString('utf8'))),
        readRest: () => {
          res.resume();
          return rest;
        },
      });
    });
    req.on('error', reject);
    held.push(req);
  });
}

describe('backup downloads', () => {
  it(`serve ${BACKUPS_AT_ONCE_MAX} at once, refuse the next with 429 OVERLOADED, and cut off a client that takes nothing`, async () => {
    const stallMs = 1500;
    cluster = await Cluster.start({ nodes: 1, admin: true, serverArgs: ['--backup-stall-ms', String(stallMs)] });
    await cluster.waitForLeader();
    const node = cluster.nodes[0]!;
    // 16 MiB of values: more than loopback's socket buffers hold, so a download that is not read backs up.
    const client = cluster.client();
    const value = Buffer.alloc(256 * 1024, 0x61);
    await Promise.all(Array.from({ length: 64 }, (_, i) => client.put(`big/${i}`, value)));

    const stalled = [];
    for (let i = 0; i < BACKUPS_AT_ONCE_MAX; i++) stalled.push(await stalledDownload(node.adminAddress!));
    expect(stalled.map((d) => d.status)).toEqual(Array(BACKUPS_AT_ONCE_MAX).fill(200));

    const refused = await stalledDownload(node.adminAddress!);
    expect(refused.status).toBe(429);
    expect(JSON.parse(await refused.text)).toMatchObject({ code: 'OVERLOADED', error: expect.stringMatching(/the most it serves at once/) });

    // Nothing reads them: the node cuts both off once its writes have waited stallMs, and says why.
    const failures = (): string[] => node.logs.filter((l) => l.event === 'admin.backup.failed').map((l) => String(l['error']));
    await waitForProgress(
      () => failures().length === BACKUPS_AT_ONCE_MAX,
      () => cluster!.outputLines,
      () => `the node cutting off the stalled downloads (events: ${node.logs.map((l) => l.event).filter((e) => e.startsWith('admin')).join(', ')})`,
      { stallMs: stallMs + 15_000 },
    );
    for (const error of failures()) expect(error).toBe(`the client took nothing for ${stallMs} ms (--backup-stall-ms)`);
    // Their slots are free: another download starts (and is dropped here).
    const again = await stalledDownload(node.adminAddress!);
    expect(again.status).toBe(200);
    held.pop()!.destroy();
    // What the stalled clients still read is a backup cut short, never one that looks whole.
    for (const d of stalled) expect(await d.readRest()).toMatchObject({ complete: false });

    // A client that reads gets a whole backup.
    const dir = mkdtempSync(join(tmpdir(), 'keel-backup-limits-'));
    dirs.push(dir);
    const file = join(dir, 'b.backup');
    const save = await runNode(KVCTL_BIN, ['--endpoints', cluster.endpoints[0]!, 'snapshot', 'save', file]);
    expect(save.code, save.stderr).toBe(0);
    expect(statSync(file).size).toBeGreaterThan(64 * value.length);
  });
});
