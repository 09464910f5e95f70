/**
 * Asks one member for its status over its client port, as any client would: one connection, one
 * `status` request, an answer within the timeout or an error. Used by the cluster view, which
 * must not depend on the member's own admin listener being on.
 */
import net from 'node:net';
import { FrameDecoder, KeelError, encodeFrame, validateClientResponse, type NodeStatus } from '@keel/protocol';
import { parseAddress } from '../transport/address.js';

export async function fetchStatus(clientAddress: string, timeoutMs: number): Promise<NodeStatus> {
  const { host, port } = parseAddress(clientAddress);
  return new Promise<NodeStatus>((resolve, reject) => {
    const socket = net.connect({ host, port });
    const decoder = new FrameDecoder();
    const finish = (error: Error | undefined, status?: NodeStatus): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(status!);
    };
    const timer = setTimeout(() => finish(new KeelError('TIMEOUT', `no status from ${clientAddress} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(encodeFrame({ id: 1, op: 'status' })));
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (value) => {
          const response = validateClientResponse(value);
          if (response.ok) finish(undefined, response.result as NodeStatus);
          else finish(KeelError.fromWire(response.error));
        });
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.once('error', (error) => finish(new KeelError('CONNECTION_LOST', `cannot reach ${clientAddress}: ${error.message}`)));
    socket.once('close', () => finish(new KeelError('CONNECTION_LOST', `${clientAddress} closed the connection`)));
  });
}
