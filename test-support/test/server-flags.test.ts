/**
 * Every keel-server runs with SERVER_NODE_FLAGS (paths.ts): the harness passes them to Node (so
 * `pnpm cluster`, the bench and the Jepsen-style runs get them), and the bin's shebang carries
 * the same, so `keel-server` run as a program gets them too.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, SERVER_BIN, SERVER_NODE_FLAGS } from '@keel/test-support';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('the Node flags of keel-server', () => {
  it('are the ones on the bin’s shebang line', () => {
    const shebang = readFileSync(SERVER_BIN, 'utf8').split('\n')[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`);
  });

  it('reach Node when the bin is run as a program', () => {
    const r = spawnSync(SERVER_BIN, ['--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--initial-cluster');
  });

  it.runIf(process.platform === 'linux')('are on the command line of every node the harness starts', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    const node = cluster.nodes[0]!;
    const cmdline = readFileSync(`/proc/${node.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.slice(1, 1 + SERVER_NODE_FLAGS.length)).toEqual([...SERVER_NODE_FLAGS]);
    expect(cmdline[1 + SERVER_NODE_FLAGS.length]).toBe(SERVER_BIN);
  });
});
