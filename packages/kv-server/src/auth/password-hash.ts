/**
 * Password hashing with scrypt (Node's `crypto.scrypt`, which runs in libuv's thread pool, off the
 * event loop). Every hash and every check goes through one `WorkLimiter` per node: at most
 * `concurrency` run at once and at most `queueMax` wait, beyond which the caller gets OVERLOADED
 * at once. So a flood of (failed) logins costs the node at most `concurrency` threads of scrypt
 * and a bounded queue, never its event loop or all of its thread pool (LevelDB reads use it too).
 *
 * Stored layout (PASSWORD_HASH_BYTES = 52): [1 (version), log2(N), r, p, salt (16), key (32)].
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { KeelError } from '@keel/protocol';

const VERSION = 1;
/** scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB of memory and tens of milliseconds per hash). */
const LOG2_N = 14;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
export const PASSWORD_HASH_BYTES = 4 + SALT_BYTES + KEY_BYTES;

export interface PasswordHashLimits {
  /** Hashes computed at once. */
  readonly concurrency: number;
  /** Hashes waiting; more are refused with OVERLOADED. */
  readonly queueMax: number;
}

export const PASSWORD_HASH_LIMITS: PasswordHashLimits = { concurrency: 2, queueMax: 64 };

export class PasswordHasher {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: PasswordHashLimits = PASSWORD_HASH_LIMITS) {}

  /** A new salted hash of `password`. Rejects with OVERLOADED when too many hashes wait. */
  async hash(password: string): Promise<Uint8Array> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.limited(() => derive(password, salt, LOG2_N, R, P));
    const out = new Uint8Array(PASSWORD_HASH_BYTES);
    out.set([VERSION, LOG2_N, R, P]);
    out.set(salt, 4);
    out.set(key, 4 + SALT_BYTES);
    return out;
  }

  /**
   * Whether `password` matches `stored` (a hash from `hash`). Without a stored hash (no such user)
   * the same work is done against a fixed hash and the answer is false, so the time taken does
   * not tell whether the user exists. Rejects with OVERLOADED when too many hashes wait.
   */
  async verify(stored: Uint8Array | undefined, password: string): Promise<boolean> {
    const valid = stored !== undefined && stored.byteLength === PASSWORD_HASH_BYTES && stored[0] === VERSION && stored[1]! <= 20;
    const hash = valid ? stored : DUMMY_HASH;
    const key = await this.limited(() => derive(password, hash.subarray(4, 4 + SALT_BYTES), hash[1]!, hash[2]!, hash[3]!));
    return timingSafeEqual(key, hash.subarray(4 + SALT_BYTES)) && valid;
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queueMax) {
        throw new KeelError('OVERLOADED', `too many password checks waiting (${this.limits.queueMax}); retry later`);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(); // the slot passes on
      else this.running--;
    }
  }
}

function derive(password: string, salt: Uint8Array, log2N: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** log2N;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r }, (error, key) => (error !== null ? reject(error) : resolve(key))),
  );
}

const DUMMY_HASH = (() => {
  const h = new Uint8Array(PASSWORD_HASH_BYTES);
  h.set([VERSION, LOG2_N, R, P]);
  return h;
})();
