/**
 * A stand-in for a Keel node that answers every request at once from a map in memory: no Raft,
 * no disk, no peers. `pnpm bench --stub` loads it (in a child process, so the CPU of the load
 * generator and of `@keel/client` is measured alone): the ceiling of the generator, i.e. how many
 * requests per second the client library can keep going and what each costs it.
 *
 * It listens on 127.0.0.1 (port 0) and prints `{"port":N}` once it listens; stop it with a signal.
 */
import { createServer } from 'node:net';
import { FrameBatch, FrameDecoder, LIMITS, packPayload, type ClientRequest } from '@keel/protocol';

function main(): void {
  const store = new Map<string, { key: Uint8Array; value: Uint8Array; createRevision: number; modRevision: number; version: number }>();
  let revision = 0;
  const answer = (req: ClientRequest): unknown => {
    switch (req.op) {
      case 'put': {
        revision++;
        const id = Buffer.from(req.key).toString('latin1');
        const before = store.get(id);
        store.set(id, { key: req.key, value: req.value, createRevision: before?.createRevision ?? revision, modRevision: revision, version: (before?.version ?? 0) + 1 });
        return { revision };
      }
      case 'get':
        return { kv: store.get(Buffer.from(req.key).toString('latin1')) ?? null, revision };
      case 'status':
        return { id: 1, role: 'leader', term: 1, leader: 1, commit: revision, applied: revision, lastIndex: revision };
      default:
        return undefined;
    }
  };
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const decoder = new FrameDecoder({ copyBuffers: true });
    socket.on('data', (chunk: Buffer) => {
      const batch = new FrameBatch(LIMITS.frameBytesMax);
      decoder.push(chunk, (value) => {
        const req = value as ClientRequest;
        const result = answer(req);
        batch.addPayload(
          packPayload(
            result === undefined
              ? { id: req.id, ok: false, error: { code: 'UNKNOWN_COMMAND', message: `the stub does not serve ${req.op}`, definite: true } }
              : { id: req.id, ok: true, result },
          ),
        );
      });
      if (batch.count > 0) socket.write(batch.take());
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  });
}

main();
