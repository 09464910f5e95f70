/**
 * The auth commands of the log (op codes 20–39, stable: they are stored in every log). A password
 * never reaches the log: the node that receives `userAdd` or `userPasswd` hashes it (scrypt,
 * auth/password-hash.ts) and proposes the hash.
 *
 *   authEnable:     [20]
 *   authDisable:    [21]
 *   userAdd:        [22, user, passwordHash]
 *   userDelete:     [23, user]
 *   userPasswd:     [24, user, passwordHash]
 *   userGrantRole:  [25, user, role]
 *   userRevokeRole: [26, user, role]
 *   roleAdd:        [27, role]
 *   roleDelete:     [28, role]
 *   roleGrant:      [29, role, mode (0 read, 1 write, 2 readwrite), start, end | null]
 *   roleRevoke:     [30, role, start, end | null]
 *
 * Rules: names 1..AUTH_LIMITS.nameChars characters; a password hash 1..PASSWORD_HASH_BYTES_MAX
 * bytes; a range's start 0..LIMITS.keyBytesMax bytes, its end (when not null) after the start
 * and at most LIMITS.keyBytesMax + 1 bytes (a single key's end is the key and a zero byte).
 */
import { AUTH_LIMITS, LIMITS, type Permission, type PermissionMode } from '@keel/protocol';
import { pack, plainBytes } from './msgpack.js';

/** Longest stored password hash (auth/password-hash.ts's are 56 bytes). */
export const PASSWORD_HASH_BYTES_MAX = 256;

export type AuthCommand =
  | { readonly op: 'authEnable' }
  | { readonly op: 'authDisable' }
  | { readonly op: 'userAdd'; readonly user: string; readonly passwordHash: Uint8Array }
  | { readonly op: 'userDelete'; readonly user: string }
  | { readonly op: 'userPasswd'; readonly user: string; readonly passwordHash: Uint8Array }
  | { readonly op: 'userGrantRole'; readonly user: string; readonly role: string }
  | { readonly op: 'userRevokeRole'; readonly user: string; readonly role: string }
  | { readonly op: 'roleAdd'; readonly role: string }
  | { readonly op: 'roleDelete'; readonly role: string }
  | { readonly op: 'roleGrant'; readonly role: string; readonly permission: Permission }
  | { readonly op: 'roleRevoke'; readonly role: string; readonly start: Uint8Array; readonly end: Uint8Array | null };

const CODES: { readonly [Op in AuthCommand['op']]: number } = {
  authEnable: 20,
  authDisable: 21,
  userAdd: 22,
  userDelete: 23,
  userPasswd: 24,
  userGrantRole: 25,
  userRevokeRole: 26,
  roleAdd: 27,
  roleDelete: 28,
  roleGrant: 29,
  roleRevoke: 30,
};
const OPS = new Map(Object.entries(CODES).map(([op, code]) => [code, op as AuthCommand['op']]));
export const MODES: readonly PermissionMode[] = ['read', 'write', 'readwrite'];

/** True for the op codes this file owns (20–39). */
export function isAuthCode(code: unknown): boolean {
  return typeof code === 'number' && code >= 20 && code <= 39;
}

export function isAuthCommand(c: { readonly op: string }): c is AuthCommand {
  return Object.hasOwn(CODES, c.op);
}

/** Why `c` breaks the rules (module doc), or undefined. */
export function authCommandProblem(c: AuthCommand): string | undefined {
  switch (c.op) {
    case 'authEnable':
    case 'authDisable':
      return undefined;
    case 'userAdd':
    case 'userPasswd':
      return nameProblem(c.user) ?? hashProblem(c.passwordHash);
    case 'userDelete':
      return nameProblem(c.user);
    case 'userGrantRole':
    case 'userRevokeRole':
      return nameProblem(c.user) ?? nameProblem(c.role);
    case 'roleAdd':
    case 'roleDelete':
      return nameProblem(c.role);
    case 'roleGrant':
      return nameProblem(c.role) ?? (MODES.includes(c.permission.mode) ? rangeProblem(c.permission.start, c.permission.end) : 'unknown mode');
    case 'roleRevoke':
      return nameProblem(c.role) ?? rangeProblem(c.start, c.end);
  }
}

export function encodeAuthCommand(c: AuthCommand): Uint8Array {
  const problem = authCommandProblem(c);
  if (problem !== undefined) throw new TypeError(`encodeAuthCommand: ${problem}`);
  const code = CODES[c.op];
  switch (c.op) {
    case 'authEnable':
    case 'authDisable':
      return pack([code]);
    case 'userAdd':
    case 'userPasswd':
      return pack([code, c.user, c.passwordHash]);
    case 'userDelete':
      return pack([code, c.user]);
    case 'userGrantRole':
    case 'userRevokeRole':
      return pack([code, c.user, c.role]);
    case 'roleAdd':
    case 'roleDelete':
      return pack([code, c.role]);
    case 'roleGrant':
      return pack([code, c.role, MODES.indexOf(c.permission.mode), c.permission.start, c.permission.end]);
    case 'roleRevoke':
      return pack([code, c.role, c.start, c.end]);
  }
}

/** The command of a decoded array whose first element is an auth code, or undefined (wrong shape). The caller checks `authCommandProblem`. */
export function toAuthCommand(a: unknown[]): AuthCommand | undefined {
  const op = OPS.get(a[0] as number);
  const str = (v: unknown): string => v as string;
  const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? plainBytes(v) : (v as Uint8Array));
  const end = (v: unknown): Uint8Array | null => (v === null ? null : bytes(v));
  const isBytes = (v: unknown): boolean => v instanceof Uint8Array;
  switch (op) {
    case 'authEnable':
    case 'authDisable':
      return a.length === 1 ? { op } : undefined;
    case 'userAdd':
    case 'userPasswd':
      return a.length === 3 && isBytes(a[2]) ? { op, user: str(a[1]), passwordHash: bytes(a[2]) } : undefined;
    case 'userDelete':
      return a.length === 2 ? { op, user: str(a[1]) } : undefined;
    case 'userGrantRole':
    case 'userRevokeRole':
      return a.length === 3 ? { op, user: str(a[1]), role: str(a[2]) } : undefined;
    case 'roleAdd':
    case 'roleDelete':
      return a.length === 2 ? { op, role: str(a[1]) } : undefined;
    case 'roleGrant': {
      const mode = MODES[a[2] as number];
      if (a.length !== 5 || mode === undefined || !isBytes(a[3]) || (a[4] !== null && !isBytes(a[4]))) return undefined;
      return { op, role: str(a[1]), permission: { mode, start: bytes(a[3]), end: end(a[4]) } };
    }
    case 'roleRevoke':
      if (a.length !== 4 || !isBytes(a[2]) || (a[3] !== null && !isBytes(a[3]))) return undefined;
      return { op, role: str(a[1]), start: bytes(a[2]), end: end(a[3]) };
    default:
      return undefined;
  }
}

export function nameProblem(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= AUTH_LIMITS.nameChars ? undefined : `a name must be a string of 1 to ${AUTH_LIMITS.nameChars} characters`;
}

function hashProblem(v: unknown): string | undefined {
  return v instanceof Uint8Array && v.byteLength > 0 && v.byteLength <= PASSWORD_HASH_BYTES_MAX ? undefined : 'malformed password hash';
}

export function rangeProblem(start: unknown, end: unknown): string | undefined {
  if (!(start instanceof Uint8Array) || start.byteLength > LIMITS.keyBytesMax) return 'malformed range start';
  if (end === null) return undefined;
  if (!(end instanceof Uint8Array) || end.byteLength === 0 || end.byteLength > LIMITS.keyBytesMax + 1) return 'malformed range end';
  return Buffer.compare(start, end) < 0 ? undefined : 'empty range';
}
