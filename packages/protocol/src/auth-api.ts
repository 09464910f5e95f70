/**
 * The client API of authentication and authorization (issue 14): users with passwords, roles
 * that grant read, write or readwrite on key ranges, and the `root` role that membership, leader
 * transfer and every call of this file except `authenticate` and `authStatus` need once auth is
 * enabled. The state lives in the replicated state machine, so every node enforces the same.
 *
 * A permission covers the keys of `[start, end)` in byte order; `end` null covers every key from
 * `start` on. One key `k` is `[k, k + 0x00)`, a prefix `p` is `[p, p with its last byte + 1)`
 * (`keyRange` / `prefixRange` in the client compute them).
 */

/** Names of users and roles: 1..`AUTH_LIMITS.nameChars` characters. */
export const AUTH_LIMITS = {
  nameChars: 128,
  /** Longest password, in UTF-8 bytes (hashed with scrypt on the node that receives it). */
  passwordBytesMax: 1024,
  usersMax: 10_000,
  rolesMax: 10_000,
  /** Most roles one user holds, and most permissions one role grants. */
  rolesPerUserMax: 256,
  permissionsPerRoleMax: 1024,
} as const;

/** The role that may do everything; granted to the user `root` when auth is enabled. */
export const ROOT_ROLE = 'root';
/** The user that must exist before auth can be enabled. */
export const ROOT_USER = 'root';

export type PermissionMode = 'read' | 'write' | 'readwrite';

export interface Permission {
  readonly mode: PermissionMode;
  readonly start: Uint8Array;
  /** Exclusive end; null: every key from `start` on. */
  readonly end: Uint8Array | null;
}

export type AuthRequest =
  /** Authenticate this connection: every later request on it runs as `user`. */
  | { readonly id: number; readonly op: 'authenticate'; readonly user: string; readonly password: string }
  | { readonly id: number; readonly op: 'authStatus' }
  | { readonly id: number; readonly op: 'authEnable' }
  | { readonly id: number; readonly op: 'authDisable' }
  | { readonly id: number; readonly op: 'userAdd'; readonly user: string; readonly password: string }
  | { readonly id: number; readonly op: 'userDelete'; readonly user: string }
  | { readonly id: number; readonly op: 'userGet'; readonly user: string }
  | { readonly id: number; readonly op: 'userList' }
  | { readonly id: number; readonly op: 'userPasswd'; readonly user: string; readonly password: string }
  | { readonly id: number; readonly op: 'userGrantRole'; readonly user: string; readonly role: string }
  | { readonly id: number; readonly op: 'userRevokeRole'; readonly user: string; readonly role: string }
  | { readonly id: number; readonly op: 'roleAdd'; readonly role: string }
  | { readonly id: number; readonly op: 'roleDelete'; readonly role: string }
  | { readonly id: number; readonly op: 'roleGet'; readonly role: string }
  | { readonly id: number; readonly op: 'roleList' }
  | { readonly id: number; readonly op: 'roleGrant'; readonly role: string; readonly permission: Permission }
  /** Removes the permission on exactly `[start, end)` (whatever its mode). */
  | { readonly id: number; readonly op: 'roleRevoke'; readonly role: string; readonly start: Uint8Array; readonly end: Uint8Array | null };

/** Answers of the auth calls. `revision` is the log index of the change. */
export interface AuthResults {
  authenticate: { readonly user: string };
  authStatus: { readonly enabled: boolean; readonly revision: number };
  authEnable: { readonly revision: number };
  authDisable: { readonly revision: number };
  userAdd: { readonly revision: number };
  userDelete: { readonly revision: number };
  userGet: { readonly user: string; readonly roles: readonly string[] };
  userList: { readonly users: readonly string[] };
  userPasswd: { readonly revision: number };
  userGrantRole: { readonly revision: number };
  userRevokeRole: { readonly revision: number };
  roleAdd: { readonly revision: number };
  roleDelete: { readonly revision: number };
  roleGet: { readonly role: string; readonly permissions: readonly Permission[] };
  roleList: { readonly roles: readonly string[] };
  roleGrant: { readonly revision: number };
  roleRevoke: { readonly revision: number };
}
