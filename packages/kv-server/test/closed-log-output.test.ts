/**
 * A node must not die because its log reader went away. keel-server logs JSON lines on stdout;
 * when the reader of that pipe exits (`keel-server … | head`, a log shipper that crashed), the
 * next line meets EPIPE. That error went unhandled and the node exited with status 1, taking a
 * healthy replica out of the cluster. It now stops writing its log, says so once on stderr, and
 * keeps serving.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, splitAddress, waitForProgress } from '@keel/test-support';
import { activity, RawFrameSocket } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const NOTICE = /log output .*failed.*EPIPE/;

describe('keel-server whose stdout pipe closes', () => {
  it('keeps serving, says so once on stderr, and still stops cleanly', async () => {
    const cluster = await Cluster.start({ nodes: 1 });
    cleanup.push(() => cluster.destroy());
    const node = cluster.node(1);
    const proc = node.process!;
    const client = cluster.client({ timeoutMs: 10_000 });
    await client.put('before', '1');

    proc.closeStdout();
    // Make it log: a client request on the peer port is logged at info (peer.client_request).
    const logSomething = async (): Promise<void> => {
      const wrong = await RawFrameSocket.connect(splitAddress(node.peerAddress).port);
      wrong.send({ id: 1, op: 'status' });
      await waitForProgress(() => wrong.closed, activity, 'the peer port answered');
    };
    await logSomething();
    await waitForProgress(
      () => !proc.running || proc.stderrLines.some((l) => NOTICE.test(l)),
      () => [activity(), proc.stderrLines.length],
      'the node noticed its closed log output',
    );
    expect(proc.running, proc.tail()).toBe(true);

    await logSomething();
    await client.put('after', '2');
    expect((await client.get('after'))?.text).toBe('2');
    expect((await client.get('before'))?.text).toBe('1');
    expect(proc.running).toBe(true);
    expect(proc.stderrLines.filter((l) => NOTICE.test(l))).toHaveLength(1);

    expect(await node.stop()).toEqual({ code: 0, signal: null });
  });
});
