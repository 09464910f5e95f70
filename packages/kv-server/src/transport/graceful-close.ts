import type net from 'node:net';

/** How long a connection being closed after an error frame may linger for the peer to read it. */
export const CLOSE_GRACE_MS = 2_000;

/**
 * Sends `lastBytes` (if any), half-closes, and discards whatever the peer still sends until it
 * closes too or `graceMs` passes. Destroying at once could reset the connection before the peer
 * read the error frame (unread input makes the kernel answer with RST).
 */
export function closeGracefully(socket: net.Socket, lastBytes?: Uint8Array, graceMs = CLOSE_GRACE_MS): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  socket.on('error', () => socket.destroy());
  socket.on('end', () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
  if (lastBytes !== undefined) socket.end(lastBytes);
  else socket.end();
}
