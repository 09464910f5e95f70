/**
 * The backup file: a consistent snapshot of a node's state machine as `kvctl snapshot save`
 * writes it (streamed by the admin listener's `GET /snapshot`) and `keel-server restore` and
 * `kvctl snapshot status` read it. Self-checking, so a damaged or truncated file is refused
 * before anything is restored from it.
 *
 *   signature   8 bytes: 0x89 "KEELBK" 0x0a (the 0x89 and the newline catch text-mode mangling)
 *   frames      kind (1 byte), length (4 bytes, big-endian), payload:
 *                 1 header    msgpack map {format, clusterId, nodeId, revision, term, createdAt}
 *                 2 chunk     one snapshot chunk, as nodes stream them to each other (opaque here)
 *                 3 footer    msgpack map {chunks, keys, sessions}
 *                 4 checksum  32 bytes: the SHA-256 of every byte before this frame; the last frame
 *
 * The header comes first, then the chunks in order, the footer, the checksum, then the end of
 * the file. The checksum covers the footer too, so no count can be damaged unnoticed; it is the
 * SHA-256 of the file without its last 37 bytes (`head -c -37 FILE | sha256sum`). `revision` is
 * the log index the snapshot holds the state of: every write acknowledged before the backup
 * began has a revision at or below it.
 */
import { createHash, type Hash } from 'node:crypto';
import { Packr } from 'msgpackr';

export const BACKUP_SIGNATURE = Uint8Array.from([0x89, 0x4b, 0x45, 0x45, 0x4c, 0x42, 0x4b, 0x0a]);
export const BACKUP_FORMAT = 1;
/** Largest frame accepted: a chunk is at most a few MiB; a bigger length means a damaged file. */
export const BACKUP_FRAME_BYTES_MAX = 64 * 1024 * 1024;

const KIND_HEADER = 1;
const KIND_CHUNK = 2;
const KIND_FOOTER = 3;
const KIND_CHECKSUM = 4;
const FRAME_HEADER_BYTES = 5;
const SHA256_BYTES = 32;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** What the backup is of, written first. */
export interface BackupHeader {
  readonly format: number;
  readonly clusterId: string;
  /** The node that streamed it. */
  readonly nodeId: number;
  readonly revision: number;
  /** Raft term of the entry at `revision`. */
  readonly term: number;
  /** When the snapshot was taken (ISO 8601). */
  readonly createdAt: string;
}

/** A whole, checked backup (what `kvctl snapshot status` prints). */
export interface BackupSummary extends BackupHeader {
  readonly keys: number;
  /** Client write sessions carried along (exactly-once retries survive a restore). */
  readonly sessions: number;
  readonly chunks: number;
  /** Size of the file, in bytes. */
  readonly bytes: number;
  /** SHA-256 (hex) of the file up to its checksum frame (what that frame holds). */
  readonly sha256: string;
}

export type BackupErrorCode =
  /** The file ends early: a download or copy was cut short. */
  | 'BACKUP_TRUNCATED'
  /** The bytes are not a Keel backup, or were damaged (checksum, framing or contents). */
  | 'BACKUP_CORRUPT'
  /** A backup of a format this version cannot read. */
  | 'BACKUP_UNSUPPORTED';

export class BackupError extends Error {
  override readonly name = 'BackupError';
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Writes a backup: `start`, `chunk` for each snapshot chunk in order, then `finish`. Each returns the bytes to append. */
export class BackupWriter {
  private readonly hash = createHash('sha256');
  private chunks = 0;

  start(header: Omit<BackupHeader, 'format'>): Uint8Array {
    const payload = packr.pack({ format: BACKUP_FORMAT, ...header });
    return this.hashed(Buffer.concat([BACKUP_SIGNATURE, frameHeader(KIND_HEADER, payload.length), payload]));
  }

  chunk(data: Uint8Array): Uint8Array {
    if (data.byteLength > BACKUP_FRAME_BYTES_MAX) throw new RangeError(`snapshot chunk of ${data.byteLength} bytes exceeds ${BACKUP_FRAME_BYTES_MAX}`);
    this.chunks++;
    return this.hashed(Buffer.concat([frameHeader(KIND_CHUNK, data.byteLength), data]));
  }

  /** The footer and the checksum frame: the end of the file. */
  finish(counts: { readonly keys: number; readonly sessions: number }): Uint8Array {
    const payload = packr.pack({ chunks: this.chunks, keys: counts.keys, sessions: counts.sessions });
    const footer = this.hashed(Buffer.concat([frameHeader(KIND_FOOTER, payload.length), payload]));
    return Buffer.concat([footer, frameHeader(KIND_CHECKSUM, SHA256_BYTES), this.hash.digest()]);
  }

  private hashed(bytes: Buffer): Buffer {
    this.hash.update(bytes);
    return bytes;
  }
}

/** One step of reading a backup (`readBackup`). */
export type BackupItem =
  | { readonly kind: 'header'; readonly header: BackupHeader }
  | { readonly kind: 'chunk'; readonly data: Uint8Array }
  /** The footer and checksum checked out and the file ended right after them. */
  | { readonly kind: 'end'; readonly summary: BackupSummary };

/**
 * Reads and checks a backup from `source` (a file or HTTP stream): the header, every chunk in
 * order, and last `end` once the footer's counts and the checksum match and nothing follows.
 * Throws `BackupError` the moment the bytes stop making sense; a consumer must not trust the
 * chunks it has seen (nor keep what it built from them) until `end`.
 */
export async function* readBackup(source: AsyncIterable<Uint8Array>): AsyncGenerator<BackupItem, void, undefined> {
  const hash: Hash = createHash('sha256');
  let buffered: Buffer = Buffer.alloc(0);
  let offset = 0; // file offset of buffered[0]
  let header: BackupHeader | undefined;
  let chunks = 0;
  let footer: { chunks: number; keys: number; sessions: number } | undefined;
  let digest: string | undefined; // once the checksum frame checked out: the end
  let signed = false;

  const take = (n: number): Buffer => {
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    offset += n;
    return out;
  };

  // Pieces arrive in whatever sizes the source has; they are joined only once the next frame is whole.
  let queued: Uint8Array[] = [];
  let queuedBytes = 0;
  const needed = (): number =>
    !signed ? BACKUP_SIGNATURE.length : buffered.length < FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + buffered.readUInt32BE(1);

  for await (const piece of source) {
    if (digest !== undefined) {
      if (piece.byteLength > 0) throw corrupt(`${piece.byteLength} or more bytes follow the checksum at byte ${offset}`);
      continue;
    }
    queued.push(piece);
    queuedBytes += piece.byteLength;
    if (buffered.length + queuedBytes < Math.min(needed(), FRAME_HEADER_BYTES + BACKUP_FRAME_BYTES_MAX)) continue;
    buffered = Buffer.concat([buffered, ...queued]);
    queued = [];
    queuedBytes = 0;
    if (!signed) {
      if (buffered.length < BACKUP_SIGNATURE.length) continue;
      if (!buffered.subarray(0, BACKUP_SIGNATURE.length).equals(BACKUP_SIGNATURE)) {
        throw notABackup();
      }
      hash.update(take(BACKUP_SIGNATURE.length));
      signed = true;
    }
    while (digest === undefined && buffered.length >= FRAME_HEADER_BYTES) {
      const kind = buffered[0]!;
      const length = buffered.readUInt32BE(1);
      if (kind < KIND_HEADER || kind > KIND_CHECKSUM) throw corrupt(`unknown frame kind ${kind} at byte ${offset}`);
      if (length > BACKUP_FRAME_BYTES_MAX) throw corrupt(`frame of ${length} bytes at byte ${offset} exceeds ${BACKUP_FRAME_BYTES_MAX}`);
      if (kind === KIND_CHECKSUM && length !== SHA256_BYTES) throw corrupt(`the checksum frame at byte ${offset} holds ${length} bytes, not ${SHA256_BYTES}`);
      if (buffered.length < FRAME_HEADER_BYTES + length) break;
      const at = offset;
      const frame = take(FRAME_HEADER_BYTES + length);
      const payload = frame.subarray(FRAME_HEADER_BYTES);
      if (kind === KIND_CHECKSUM) {
        if (footer === undefined) throw corrupt(`the checksum at byte ${at} comes before the footer`);
        const contents = hash.digest('hex');
        const stated = Buffer.from(payload).toString('hex');
        if (stated !== contents) throw corrupt(`checksum mismatch: the file says sha256 ${stated}, its contents hash to ${contents}`);
        digest = contents;
        if (buffered.length > 0) throw corrupt(`${buffered.length} or more bytes follow the checksum at byte ${offset}`);
        break;
      }
      if (footer !== undefined) throw corrupt(`a frame of kind ${kind} at byte ${at} follows the footer`);
      hash.update(frame);
      if (kind === KIND_FOOTER) {
        if (header === undefined) throw corrupt('the footer comes before the header');
        footer = decodeFooter(payload, at);
      } else if (kind === KIND_HEADER) {
        if (header !== undefined) throw corrupt(`a second header at byte ${at}`);
        header = decodeHeader(payload);
        yield { kind: 'header', header };
      } else {
        if (header === undefined) throw corrupt(`a chunk at byte ${at} comes before the header`);
        chunks++;
        yield { kind: 'chunk', data: payload };
      }
    }
  }
  if (queuedBytes > 0) buffered = Buffer.concat([buffered, ...queued]);
  if (!signed) {
    if (buffered.length === 0) throw truncated('the file is empty');
    if (!Buffer.from(BACKUP_SIGNATURE).subarray(0, buffered.length).equals(buffered)) throw notABackup();
    throw truncated(`the file ends after ${buffered.length} bytes, inside the signature`);
  }
  if (digest === undefined) {
    if (buffered.length > 0) throw truncated(`the file ends inside a frame at byte ${offset} (${buffered.length} bytes of it present)`);
    const last = footer !== undefined ? 'its footer' : header === undefined ? 'its signature' : `${chunks} chunks`;
    throw truncated(`the file ends after ${last}, without its ${footer !== undefined ? 'checksum' : 'footer'}`);
  }
  if (footer!.chunks !== chunks) throw corrupt(`the footer counts ${footer!.chunks} chunks, the file holds ${chunks}`);
  yield { kind: 'end', summary: { ...header!, keys: footer!.keys, sessions: footer!.sessions, chunks, bytes: offset, sha256: digest } };
}

/** Reads a whole backup, checking it, and returns its summary. Throws `BackupError`. */
export async function checkBackup(source: AsyncIterable<Uint8Array>): Promise<BackupSummary> {
  for await (const item of readBackup(source)) if (item.kind === 'end') return item.summary;
  throw truncated('the backup ended without its checksum');
}

function frameHeader(kind: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  out[0] = kind;
  out.writeUInt32BE(length, 1);
  return out;
}

function decodeMap(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (cause) {
    throw new BackupError('BACKUP_CORRUPT', `the ${what} does not decode`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`the ${what} is not a map`);
  return value as Record<string, unknown>;
}

function decodeHeader(payload: Uint8Array): BackupHeader {
  const h = decodeMap(payload, 'header');
  if (h['format'] !== BACKUP_FORMAT) {
    if (isCount(h['format'])) throw new BackupError('BACKUP_UNSUPPORTED', `backup format ${h['format']}; this Keel reads format ${BACKUP_FORMAT}`);
    throw corrupt('the header has no format');
  }
  const { clusterId, nodeId, revision, term, createdAt } = h;
  if (typeof clusterId !== 'string' || !isCount(nodeId) || !isCount(revision) || revision < 1 || !isCount(term) || typeof createdAt !== 'string') {
    throw corrupt('the header is not {format, clusterId, nodeId, revision, term, createdAt}');
  }
  return { format: BACKUP_FORMAT, clusterId, nodeId, revision, term, createdAt };
}

function decodeFooter(payload: Uint8Array, at: number): { chunks: number; keys: number; sessions: number } {
  const f = decodeMap(payload, `footer at byte ${at}`);
  const { chunks, keys, sessions } = f;
  if (!isCount(chunks) || !isCount(keys) || !isCount(sessions)) throw corrupt(`the footer at byte ${at} is not {chunks, keys, sessions}`);
  return { chunks, keys, sessions };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function corrupt(message: string): BackupError {
  return new BackupError('BACKUP_CORRUPT', `the backup is damaged: ${message}`);
}

function notABackup(): BackupError {
  return corrupt('not a Keel backup: the file does not start with the backup signature');
}

function truncated(message: string): BackupError {
  return new BackupError('BACKUP_TRUNCATED', `the backup is truncated: ${message}`);
}
