import { describe, expect, it } from 'vitest';
import {
  PEER_ADDRESS_LENGTH_MAX,
  PEER_PROTOCOL_VERSION,
  checkPeerHello,
  checkPeerHelloResult,
  validatePeerHello,
  validatePeerHelloResult,
  type PeerHello,
} from '@keel/protocol';

const local = { clusterId: 'keel-a', nodeId: 2 };
const hello: PeerHello = { type: 'hello', clusterId: 'keel-a', nodeId: 1, to: 2, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'raft', incarnation: 'a1' };

describe('peer handshake', () => {
  it('accepts a hello from a node of the same cluster that meant to reach this node', () => {
    expect(validatePeerHello({ ...hello, extra: 1 })).toEqual(hello);
    expect(checkPeerHello(hello, local)).toBeNull();
  });

  it('refuses another cluster, another protocol version, the wrong target and its own id with CLUSTER_MISMATCH', () => {
    const cases: Array<[Partial<PeerHello>, RegExp]> = [
      [{ clusterId: 'keel-b' }, /cluster "keel-b"/],
      [{ protocolVersion: PEER_PROTOCOL_VERSION + 1 }, /protocol version/],
      [{ to: 3 }, /meant to reach node 3/],
      [{ nodeId: 2 }, /own id/],
    ];
    for (const [change, message] of cases) {
      const error = checkPeerHello({ ...hello, ...change }, local);
      expect(error?.code).toBe('CLUSTER_MISMATCH');
      expect(error?.message).toMatch(message);
    }
  });

  it('refuses a hello of an older protocol version (without an incarnation) with a clear message, not as malformed', () => {
    const { incarnation: _, ...older } = hello;
    const parsed = validatePeerHello({ ...older, protocolVersion: 1 });
    expect(checkPeerHello(parsed, local)?.message).toMatch(/peer protocol version 1, this node 2/);
  });

  it('rejects malformed hellos with MALFORMED_FRAME', () => {
    const { incarnation: _, ...withoutIncarnation } = hello;
    for (const bad of [null, 'hello', { ...hello, type: 'hi' }, { ...hello, clusterId: '' }, { ...hello, nodeId: 0 }, { ...hello, to: '2' }, { ...hello, protocolVersion: 1.5 }, { ...hello, channel: 'x' }, withoutIncarnation, { ...hello, incarnation: '' }, { ...hello, incarnation: 'x'.repeat(65) }]) {
      expect(() => validatePeerHello(bad)).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    }
  });

  it("carries the dialer's advertised addresses when given, and still accepts hellos without them", () => {
    const advertising = { ...hello, peerAddress: '127.0.0.1:7101', clientAddress: '127.0.0.1:7201' };
    expect(validatePeerHello(advertising)).toEqual(advertising);
    expect(validatePeerHello({ ...hello, peerAddress: '127.0.0.1:7101' })).toEqual({ ...hello, peerAddress: '127.0.0.1:7101' });
    const older = validatePeerHello(hello);
    expect(older).not.toHaveProperty('peerAddress');
    expect(older).not.toHaveProperty('clientAddress');
    const tooLong = 'h'.repeat(PEER_ADDRESS_LENGTH_MAX) + ':1';
    for (const bad of [
      { ...hello, peerAddress: 7101 },
      { ...hello, peerAddress: '' },
      { ...hello, peerAddress: tooLong },
      { ...hello, clientAddress: null },
      { ...hello, clientAddress: ['127.0.0.1:7201'] },
      { ...hello, clientAddress: tooLong },
    ]) {
      expect(() => validatePeerHello(bad)).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    }
  });

  it('lets the dialer check that it reached the node it expected', () => {
    const ok = validatePeerHelloResult({ type: 'helloResult', ok: true, clusterId: 'keel-a', nodeId: 2, protocolVersion: PEER_PROTOCOL_VERSION });
    expect(checkPeerHelloResult(ok, { clusterId: 'keel-a', nodeId: 1 }, 2)).toBeNull();
    expect(checkPeerHelloResult(ok, { clusterId: 'keel-a', nodeId: 1 }, 3)?.code).toBe('CLUSTER_MISMATCH');
    expect(checkPeerHelloResult(ok, { clusterId: 'keel-b', nodeId: 1 }, 2)?.code).toBe('CLUSTER_MISMATCH');
    const refused = validatePeerHelloResult({ type: 'helloResult', ok: false, error: { code: 'CLUSTER_MISMATCH', message: 'no', definite: true } });
    expect(checkPeerHelloResult(refused, { clusterId: 'keel-a', nodeId: 1 }, 2)?.message).toBe('no');
    expect(() => validatePeerHelloResult({ type: 'helloResult', ok: false, error: { code: 'BOGUS', message: 'x' } })).toThrow(
      expect.objectContaining({ code: 'MALFORMED_FRAME' }),
    );
  });
});
