import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BACKUP_SIGNATURE, BackupError, BackupWriter, checkBackup, readBackup, type BackupItem } from '@keel/protocol';

const HEADER = { clusterId: 'keel', nodeId: 2, revision: 1234, term: 7, createdAt: '2026-01-02T03:04:05.000Z' };

/** A backup of `chunks`, as one buffer. */
function backup(chunks: readonly Uint8Array[], counts = { keys: 10, sessions: 2 }): Buffer {
  const w = new BackupWriter();
  return Buffer.concat([w.start(HEADER), ...chunks.map((c) => w.chunk(c)), w.finish(counts)]);
}

/** `bytes` as a source delivering pieces of the given sizes (cycled), like a file or socket does. */
async function* pieces(bytes: Uint8Array, sizes: readonly number[] = [bytes.length || 1]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function items(bytes: Uint8Array, sizes?: readonly number[]): Promise<BackupItem[]> {
  const out: BackupItem[] = [];
  for await (const item of readBackup(pieces(bytes, sizes))) out.push(item);
  return out;
}

async function refusal(bytes: Uint8Array): Promise<BackupError> {
  try {
    await checkBackup(pieces(bytes, [7]));
  } catch (error) {
    expect(error).toBeInstanceOf(BackupError);
    return error as BackupError;
  }
  throw new Error('the backup was accepted');
}

const CHUNKS = [Uint8Array.from([1, 2, 3]), new Uint8Array(70_000).fill(9), Uint8Array.from([4])];

describe('the backup file', () => {
  it('reads back what was written, in any piece sizes: header, chunks in order, then a checked summary', async () => {
    const file = backup(CHUNKS);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 8 }), async (sizes) => {
        const got = await items(file, sizes);
        expect(got[0]).toEqual({ kind: 'header', header: { format: 1, ...HEADER } });
        const chunks = got.slice(1, -1).map((i) => (i.kind === 'chunk' ? Buffer.from(i.data) : Buffer.alloc(0)));
        expect(chunks.length).toBe(CHUNKS.length);
        expect(chunks.every((c, i) => c.equals(CHUNKS[i]!))).toBe(true);
        const end = got.at(-1)!;
        expect(end.kind).toBe('end');
        if (end.kind !== 'end') return;
        expect(end.summary).toMatchObject({ ...HEADER, keys: 10, sessions: 2, chunks: 3, bytes: file.length });
      }),
      { numRuns: 40 },
    );
    expect(file.subarray(0, 8)).toEqual(Buffer.from(BACKUP_SIGNATURE));
  });

  it('summarizes the sha256 of every byte before the checksum frame: the file without its last 37 bytes', async () => {
    const file = backup(CHUNKS);
    const sha256 = createHash('sha256').update(file.subarray(0, file.length - 37)).digest('hex');
    expect((await checkBackup(pieces(file))).sha256).toBe(sha256);
    expect(file.subarray(file.length - 32).toString('hex')).toBe(sha256);
  });

  it('refuses every truncation as BACKUP_TRUNCATED', async () => {
    const file = backup(CHUNKS);
    for (const cut of [0, 3, 8, 10, 20, 100, 70_000, file.length - 40, file.length - 1]) {
      const e = await refusal(file.subarray(0, cut));
      expect(e.code, `cut at ${cut}`).toBe('BACKUP_TRUNCATED');
      expect(e.message).toMatch(/^the backup is truncated: /);
    }
  });

  it('refuses a flipped byte anywhere as BACKUP_CORRUPT or BACKUP_TRUNCATED, never as a good backup', async () => {
    const file = backup(CHUNKS);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: file.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
        const damaged = Buffer.from(file);
        damaged[at]! ^= flip;
        const e = await refusal(damaged);
        expect(['BACKUP_CORRUPT', 'BACKUP_TRUNCATED', 'BACKUP_UNSUPPORTED']).toContain(e.code);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a flipped byte in the footer and checksum (the counts status prints), never as a good backup', async () => {
    const file = backup([CHUNKS[0]!]);
    const tail = 80; // the footer frame (about 30 bytes), the checksum frame (37), and the frames before them
    for (let at = file.length - tail; at < file.length; at++) {
      for (const flip of [0x01, 0x80]) {
        const damaged = Buffer.from(file);
        damaged[at]! ^= flip;
        const e = await refusal(damaged);
        expect(['BACKUP_CORRUPT', 'BACKUP_TRUNCATED'], `byte ${at} ^ ${flip}`).toContain(e.code);
      }
    }
  });

  it('names what is wrong: not a backup, trailing bytes, a checksum mismatch, a newer format', async () => {
    expect((await refusal(Buffer.from('{"not": "a backup"}\n'))).message).toContain('does not start with the backup signature');
    const file = backup(CHUNKS);
    expect((await refusal(Buffer.concat([file, Buffer.from('x')]))).message).toContain('follow the checksum');
    const flipped = Buffer.from(file);
    flipped[30_000]! ^= 1; // inside the big chunk: only the checksum can tell
    expect((await refusal(flipped)).message).toMatch(/checksum mismatch: the file says sha256 [0-9a-f]{64}, its contents hash to [0-9a-f]{64}/);
    const w = new BackupWriter();
    const future = Buffer.from(w.start(HEADER));
    const formatAt = future.indexOf(Buffer.from('format')) + 'format'.length;
    future[formatAt] = 2; // msgpack positive fixint 1 -> 2
    const e = await refusal(Buffer.concat([future, w.finish({ keys: 0, sessions: 0 })]));
    expect(e.code).toBe('BACKUP_UNSUPPORTED');
    expect(e.message).toContain('backup format 2');
  });
});
