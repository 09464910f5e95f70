/**
 * `followRedirects: false`: a client pinned to one follower of a real cluster never reaches the
 * leader for a write (it fails at the deadline and is not applied), while its reads are served
 * through the follower (linearizable reads forward a ReadIndex to the leader).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeelClient, KeelError } from '@keel/client';
import { Cluster } from '@keel/test-support';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('KeelClient with followRedirects: false', () => {
  it('talks only to its endpoint: a write to a follower fails definitely, reads are served there', async () => {
    cluster = await Cluster.start({ nodes: 3 });
    const { id: leader } = await cluster.waitForLeader();
    await cluster.client({ timeoutMs: 10_000 }).put('k', 'v1');
    const follower = cluster.nodes.find((n) => n.id !== leader)!;
    const pinned = cluster.client({ endpoints: [follower.clientAddress], followRedirects: false, timeoutMs: 1500 });
    // Every attempt is answered NOT_LEADER (UNAVAILABLE at the deadline; TIMEOUT if the last
    // answer came too late) and never reaches the leader: the value stays.
    const error = await pinned.put('k', 'v2').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeelError);
    expect(['UNAVAILABLE', 'TIMEOUT']).toContain((error as KeelError).code);
    expect((await pinned.get('k'))?.text).toBe('v1');
    expect((await pinned.get('k', { consistency: 'serializable' }))?.text).toBe('v1');

    // The same client following redirects reaches the leader.
    const following = cluster.client({ endpoints: [follower.clientAddress], timeoutMs: 10_000 });
    await following.put('k', 'v3');
    expect((await pinned.get('k'))?.text).toBe('v3');
  });

  it('refuses a followRedirects that is not a boolean', () => {
    expect(() => new KeelClient({ endpoints: ['127.0.0.1:1'], followRedirects: 'no' as unknown as boolean })).toThrow(TypeError);
  });
});
