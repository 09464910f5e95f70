/**
 * Issue 9 item 7 (server part): kvctl pointed at a node's peer port retried for 5 s and then said
 * "closed by the server": the peer port closed the connection without a word. It now answers a
 * client request with one client-protocol error frame (id -1, WRONG_PORT) naming the client port,
 * and closes. The same mistake the other way round (a node dialling a client port as a peer, e.g.
 * swapped ports in --initial-cluster) gets a handshake refusal naming the peer port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NO_REQUEST_ID } from '@keel/protocol';
import { Cluster, splitAddress, waitForProgress } from '@keel/test-support';
import { ClientPortServer } from '../src/client-port/index.js';
import { PeerTransport } from '../src/transport/index.js';
import { activity, RawFrameSocket, recordingLogger } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function transport(nodeId: number, clientAddress: string): Promise<{ transport: PeerTransport; port: number; logger: ReturnType<typeof recordingLogger> }> {
  const logger = recordingLogger(`n${nodeId}`);
  const t = new PeerTransport({
    clusterId: 'wrong-port',
    nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    peers: new Map(),
    logger,
    advertised: () => ({ peerAddress: '', clientAddress }),
    onMessage: () => {},
    onSnapshot: async () => {},
  });
  cleanup.push(() => t.close());
  const { port } = await t.listen();
  return { transport: t, port, logger };
}

async function raw(port: number): Promise<RawFrameSocket> {
  const socket = await RawFrameSocket.connect(port);
  cleanup.push(() => socket.destroy());
  return socket;
}

describe('a request on the wrong port', () => {
  it('a client request on the peer port gets one WRONG_PORT error frame (id -1) naming the client port, then the connection closes', async () => {
    const node = await transport(1, '127.0.0.1:7001');
    const client = await raw(node.port);
    client.send({ id: 1, op: 'status' });
    await waitForProgress(() => client.closed, activity, 'connection closed');
    expect(client.frames).toEqual([
      { id: NO_REQUEST_ID, ok: false, error: { code: 'WRONG_PORT', message: 'this is a peer port; the client port is 127.0.0.1:7001', definite: true } },
    ]);
    expect(node.logger.has('peer.client_request', 'info')).toBe(true);
  });

  it('a node dialling a client port as a peer is refused with WRONG_PORT naming the peer port, and remembers it', async () => {
    const logger = recordingLogger('client-port');
    const clients = new ClientPortServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      peerAddress: () => '127.0.0.1:7101',
      handle: async () => {
        throw new Error('no requests expected');
      },
    });
    cleanup.push(() => clients.close());
    const { port } = await clients.listen();
    const dialer = await transport(2, '');
    dialer.transport.setPeers(new Map([[1, `127.0.0.1:${port}`]]));
    await waitForProgress(() => dialer.transport.peerState(1)?.refusal !== undefined, activity, 'refusal recorded');
    expect(dialer.transport.peerState(1)?.refusal).toEqual({
      by: 'peer',
      code: 'WRONG_PORT',
      message: 'this is a client port; the peer port is 127.0.0.1:7101',
    });
    expect(dialer.logger.has('peer.handshake.refused', 'error')).toBe(true);
  });

  it('a running keel-server names its client port on its peer port', async () => {
    const cluster = await Cluster.start({ nodes: 1 });
    cleanup.push(() => cluster.destroy());
    const node = cluster.node(1);
    const client = await raw(splitAddress(node.peerAddress).port);
    client.send({ id: 7, op: 'get', key: new Uint8Array([1]), consistency: 'linearizable' });
    await waitForProgress(() => client.closed, activity, 'connection closed');
    expect(client.frames).toEqual([
      {
        id: NO_REQUEST_ID,
        ok: false,
        error: { code: 'WRONG_PORT', message: `this is a peer port; the client port is 127.0.0.1:${splitAddress(node.clientAddress).port}`, definite: true },
      },
    ]);
  });
});
