import type { KeyValue } from '@keel/protocol';
import { utf8 } from './bytes.js';

/**
 * A key and its value as read from Keel. Bytes are the truth (`key`, `value`); `keyText` and
 * `text` decode them as UTF-8 for the common case of string keys and values (invalid UTF-8
 * becomes U+FFFD; use the bytes when you store binary data).
 */
export class KvEntry {
  /** The key, as stored. */
  readonly key: Uint8Array;
  /** The value, as stored. */
  readonly value: Uint8Array;
  /** Revision (log index) of the last write to this key; what `cas({ expectRevision })` compares. */
  readonly revision: number;
  /** Revision of the write that created the key (since its last delete). */
  readonly createRevision: number;
  /** Number of writes to the key since it was created (1 for a new key). */
  readonly version: number;

  constructor(kv: KeyValue) {
    this.key = kv.key;
    this.value = kv.value;
    this.revision = kv.modRevision;
    this.createRevision = kv.createRevision;
    this.version = kv.version;
  }

  /** The value decoded as UTF-8. */
  get text(): string {
    return utf8(this.value);
  }

  /** The key decoded as UTF-8. */
  get keyText(): string {
    return utf8(this.key);
  }
}
