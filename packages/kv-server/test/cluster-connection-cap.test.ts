/**
 * Issue 9 item 5, end to end: a write refused at a real keel-server's connection cap never reached
 * the server, so it must fail *definitely*. The client relies on the server's OVERLOADED error
 * frame (id -1) to know that: a connection closed without it, after the request was sent, leaves
 * the write's outcome unknown. The server used to send that frame to at most 64 refused
 * connections at a time and close the rest without a word, so a crowd of clients at the cap got
 * TIMEOUT / INDETERMINATE with `definite: false` for writes that were never read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientResponse } from '@keel/protocol';
import { LIMITS, NO_REQUEST_ID } from '@keel/protocol';
import { Cluster, splitAddress, waitForProgress } from '@keel/test-support';
import { activity, RawFrameSocket } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** Well above the 64 refusals the server used to answer at once. */
const CLIENTS = 300;

function describeFrame(frame: unknown): string {
  const r = frame as ClientResponse;
  return r.ok ? `${r.id} ok` : `${r.id} ${r.error.code} definite=${r.error.definite}`;
}

describe('a keel-server at its client connection cap', () => {
  it('refuses every further write with the OVERLOADED frame, so each fails definitely and none applies', async () => {
    const cluster = await Cluster.start({ nodes: 1 });
    cleanup.push(() => cluster.destroy());
    const address = cluster.node(1).clientAddress;
    const { port } = splitAddress(address);

    // Fill every slot with connections that have sent a request: they are not idle openers, so
    // no newcomer can take their place.
    const holders: RawFrameSocket[] = [];
    cleanup.push(() => holders.forEach((h) => h.destroy()));
    for (let i = 0; i < LIMITS.clientConnectionsMax; i += 128) {
      const batch = await Promise.all(Array.from({ length: Math.min(128, LIMITS.clientConnectionsMax - i) }, () => RawFrameSocket.connect(port)));
      for (const h of batch) h.send({ id: 1, op: 'status' });
      holders.push(...batch);
      await waitForProgress(() => batch.every((h) => h.frames.length > 0 || h.closed), activity, 'the holders answered');
    }
    const probe = await RawFrameSocket.connect(port);
    cleanup.push(() => probe.destroy());
    await waitForProgress(() => probe.closed, activity, 'the probe refused');
    expect(probe.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'OVERLOADED', definite: true }) }]);

    // A crowd of writers, each sending its put as soon as it is connected. Raw sockets, not
    // KeelClients: a client retries a refusal until its deadline, so its final verdict depends on
    // where the deadline falls (an attempt cut off mid-flight is a TIMEOUT of unknown outcome), and
    // that is a race, not the server's answer. How the client reads the frame is tested in
    // packages/client/test/connection-failures.test.ts.
    const crowd = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        RawFrameSocket.connect(port).then((c) => {
          c.send({ id: 1, op: 'put', key: Buffer.from(`refused/${i}`), value: Buffer.from('v'), session: { clientId: `crowd-${i}`, seq: 1, ackedBelow: 0 } });
          return c;
        }),
      ),
    );
    cleanup.push(() => crowd.forEach((c) => c.destroy()));
    await waitForProgress(() => crowd.every((c) => c.closed), activity, 'every refused connection closed');
    const answers: Record<string, number> = {};
    for (const c of crowd) {
      const answer = c.frames.map(describeFrame).join(', ') || 'closed without a frame';
      answers[answer] = (answers[answer] ?? 0) + 1;
    }
    expect(answers).toEqual({ [`${NO_REQUEST_ID} OVERLOADED definite=true`]: CLIENTS });

    // Definite means nothing was applied: with the slots free again, not one key is there.
    holders.forEach((h) => h.destroy());
    const reader = cluster.client({ timeoutMs: 10_000 });
    expect((await reader.scan({ prefix: 'refused/' })).entries).toEqual([]);
  });
});
