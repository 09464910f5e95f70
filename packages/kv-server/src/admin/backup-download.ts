/**
 * `GET /snapshot`: a backup streamed to the HTTP client in the backup format
 * (`@keel/protocol`'s `BackupWriter`), chunk by chunk as the state store reads them, at the pace
 * the client takes them (the LevelDB snapshot stays open meanwhile, and is released at the end,
 * as soon as the client goes away, or once the client has taken nothing for `stallMs`).
 */
import type http from 'node:http';
import { BackupWriter } from '@keel/protocol';
import type { Logger, NodeId } from '@keel/raft';
import type { SnapshotStream } from '../storage/index.js';

export async function sendBackup(
  res: http.ServerResponse,
  stream: SnapshotStream,
  source: { readonly clusterId: string; readonly nodeId: NodeId; readonly backupStallMs: number },
  logger: Logger,
): Promise<void> {
  const started = performance.now();
  const { index: revision, term } = stream.meta;
  const writer = new BackupWriter();
  let bytes = 0;
  const write = async (data: Uint8Array): Promise<void> => {
    if (res.destroyed) throw new Error('the client closed the connection');
    bytes += data.byteLength;
    if (!res.write(data)) await drained(res, source.backupStallMs);
  };
  try {
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="keel-${source.clusterId}-r${revision}.backup"`,
      'Cache-Control': 'no-store',
      'X-Keel-Revision': String(revision),
    });
    await write(writer.start({ clusterId: source.clusterId, nodeId: source.nodeId, revision, term, createdAt: new Date().toISOString() }));
    for await (const chunk of stream.chunks) await write(writer.chunk(chunk));
    const counts = stream.counts();
    const end = writer.finish(counts);
    bytes += end.byteLength;
    res.end(end);
    logger.log('info', 'admin.backup.sent', { revision, term, ...counts, bytes, ms: Math.round(performance.now() - started) });
  } catch (error) {
    logger.log('warn', 'admin.backup.failed', { revision, bytes, error: (error as Error).message });
    res.destroy(); // the client sees a truncated backup, which every reader refuses
  } finally {
    await stream.close();
  }
}

/** Resolves once `res` drains; rejects when it closes first, or when it has not drained within `stallMs`. */
function drained(res: http.ServerResponse, stallMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('the client closed the connection'));
    const timer = setTimeout(() => done(new Error(`the client took nothing for ${stallMs} ms (--backup-stall-ms)`)), stallMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
