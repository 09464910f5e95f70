/**
 * The replicated auth state: whether auth is enabled, the users (password hash, the revision at
 * which the password was set, roles) and the roles (permissions on key ranges). Applied by every
 * replica from the same auth commands (auth-commands.ts), so every node decides the same; stored
 * as one record (`META.auth`, written in the batch of the entry that changed it) and carried by
 * snapshots. It is small by construction (`AUTH_LIMITS`).
 *
 * Semantics of the commands (each changes nothing when it fails):
 *  - authEnable: needs the user `root` (AUTH_CONFLICT otherwise) and gives it the `root` role.
 *  - userAdd / roleAdd of an existing name: AUTH_CONFLICT. The role `root` is built in: it cannot
 *    be added, deleted, granted or revoked permissions (it holds every permission).
 *  - userDelete of `root`, or revoking the `root` role from `root`, while auth is enabled:
 *    AUTH_CONFLICT (the cluster would have no administrator).
 *  - userGrantRole of a role already held, authEnable while enabled and authDisable while
 *    disabled succeed and change nothing.
 *  - roleDelete takes the role from every user. roleGrant replaces a permission on the same
 *    range; roleRevoke removes the permission on exactly that range (AUTH_NOT_FOUND without one).
 *  - userPasswd sets `passwordRevision`: connections authenticated with the old password must
 *    authenticate again.
 * `revision` is the log index of the last change.
 */
import { AUTH_LIMITS, ERROR_CODES, ROOT_ROLE, ROOT_USER, type ErrorCode, type Permission, type WireError } from '@keel/protocol';
import { MODES, nameProblem, rangeProblem, type AuthCommand } from './auth-commands.js';
import { StateMachineError } from './errors.js';
import { pack, plainBytes, unpack } from './msgpack.js';

export interface UserRecord {
  readonly passwordHash: Uint8Array;
  /** Log index at which the password was set. */
  readonly passwordRevision: number;
  readonly roles: readonly string[];
}

/** A key interval `[start, end)`; end null: to the last key. */
export interface KeyInterval {
  readonly start: Uint8Array;
  readonly end: Uint8Array | null;
}

/** What one user may do, merged over its roles (sorted, disjoint intervals). */
export interface Grants {
  readonly root: boolean;
  readonly read: readonly KeyInterval[];
  readonly write: readonly KeyInterval[];
}

export class AuthState {
  private grantsCache = new Map<string, Grants>();

  private constructor(
    private enabledNow: boolean,
    private revisionNow: number,
    private readonly users: Map<string, UserRecord>,
    private readonly roles: Map<string, Permission[]>,
  ) {}

  static empty(): AuthState {
    return new AuthState(false, 0, new Map(), new Map());
  }

  get enabled(): boolean {
    return this.enabledNow;
  }

  get revision(): number {
    return this.revisionNow;
  }

  user(name: string): UserRecord | undefined {
    return this.users.get(name);
  }

  userNames(): string[] {
    return [...this.users.keys()].sort();
  }

  roleNames(): string[] {
    return [ROOT_ROLE, ...[...this.roles.keys()].sort()];
  }

  /** The permissions of `role` in key order (undefined: no such role; `root` has none listed: it may do everything). */
  permissions(role: string): readonly Permission[] | undefined {
    if (role === ROOT_ROLE) return [];
    return this.roles.get(role);
  }

  /** What `user` may do (cached until the next change). */
  grants(user: string): Grants {
    let g = this.grantsCache.get(user);
    if (g === undefined) {
      const roles = this.users.get(user)?.roles ?? [];
      const read: KeyInterval[] = [];
      const write: KeyInterval[] = [];
      for (const role of roles) {
        for (const p of this.roles.get(role) ?? []) {
          if (p.mode !== 'write') read.push(p);
          if (p.mode !== 'read') write.push(p);
        }
      }
      g = { root: roles.includes(ROOT_ROLE), read: mergeIntervals(read), write: mergeIntervals(write) };
      this.grantsCache.set(user, g);
    }
    return g;
  }

  /** Apply one auth command at log index `index`: `{ revision }`, or why it was refused (nothing changed). */
  apply(c: AuthCommand, index: number): { revision: number } | WireError {
    const refusal = this.check(c);
    if (refusal !== undefined) return refusal;
    this.change(c, index);
    this.revisionNow = index;
    this.grantsCache = new Map();
    return { revision: index };
  }

  private check(c: AuthCommand): WireError | undefined {
    const userMissing = (name: string): WireError | undefined =>
      this.users.has(name) ? undefined : refuse(ERROR_CODES.AUTH_NOT_FOUND, `user ${JSON.stringify(name)} does not exist`);
    const roleMissing = (name: string): WireError | undefined =>
      name === ROOT_ROLE || this.roles.has(name) ? undefined : refuse(ERROR_CODES.AUTH_NOT_FOUND, `role ${JSON.stringify(name)} does not exist`);
    const rootRole = (name: string): WireError | undefined =>
      name === ROOT_ROLE ? refuse(ERROR_CODES.AUTH_CONFLICT, `the role root is built in: it holds every permission and cannot be changed`) : undefined;
    switch (c.op) {
      case 'authEnable':
        return this.users.has(ROOT_USER) ? undefined : refuse(ERROR_CODES.AUTH_CONFLICT, `auth cannot be enabled before the user root exists (kvctl user add root)`);
      case 'authDisable':
        return undefined;
      case 'userAdd':
        if (this.users.has(c.user)) return refuse(ERROR_CODES.AUTH_CONFLICT, `user ${JSON.stringify(c.user)} already exists`);
        return this.users.size >= AUTH_LIMITS.usersMax ? refuse(ERROR_CODES.AUTH_CONFLICT, `there are already ${AUTH_LIMITS.usersMax} users`) : undefined;
      case 'userDelete':
        if (c.user === ROOT_USER && this.enabledNow) return refuse(ERROR_CODES.AUTH_CONFLICT, 'the user root cannot be deleted while auth is enabled');
        return userMissing(c.user);
      case 'userPasswd':
        return userMissing(c.user);
      case 'userGrantRole': {
        const missing = userMissing(c.user) ?? roleMissing(c.role);
        if (missing !== undefined) return missing;
        const roles = this.users.get(c.user)!.roles;
        return roles.length >= AUTH_LIMITS.rolesPerUserMax && !roles.includes(c.role)
          ? refuse(ERROR_CODES.AUTH_CONFLICT, `user ${JSON.stringify(c.user)} already has ${AUTH_LIMITS.rolesPerUserMax} roles`)
          : undefined;
      }
      case 'userRevokeRole': {
        const missing = userMissing(c.user);
        if (missing !== undefined) return missing;
        if (c.user === ROOT_USER && c.role === ROOT_ROLE && this.enabledNow) {
          return refuse(ERROR_CODES.AUTH_CONFLICT, 'the role root cannot be revoked from the user root while auth is enabled');
        }
        return this.users.get(c.user)!.roles.includes(c.role)
          ? undefined
          : refuse(ERROR_CODES.AUTH_NOT_FOUND, `user ${JSON.stringify(c.user)} does not have role ${JSON.stringify(c.role)}`);
      }
      case 'roleAdd':
        if (c.role === ROOT_ROLE || this.roles.has(c.role)) return refuse(ERROR_CODES.AUTH_CONFLICT, `role ${JSON.stringify(c.role)} already exists`);
        return this.roles.size >= AUTH_LIMITS.rolesMax ? refuse(ERROR_CODES.AUTH_CONFLICT, `there are already ${AUTH_LIMITS.rolesMax} roles`) : undefined;
      case 'roleDelete':
        return rootRole(c.role) ?? roleMissing(c.role);
      case 'roleGrant': {
        const refused = rootRole(c.role) ?? roleMissing(c.role);
        if (refused !== undefined) return refused;
        const permissions = this.roles.get(c.role)!;
        const replaces = permissions.some((p) => sameRange(p, c.permission));
        return !replaces && permissions.length >= AUTH_LIMITS.permissionsPerRoleMax
          ? refuse(ERROR_CODES.AUTH_CONFLICT, `role ${JSON.stringify(c.role)} already grants ${AUTH_LIMITS.permissionsPerRoleMax} permissions`)
          : undefined;
      }
      case 'roleRevoke': {
        const refused = rootRole(c.role) ?? roleMissing(c.role);
        if (refused !== undefined) return refused;
        return this.roles.get(c.role)!.some((p) => sameRange(p, c))
          ? undefined
          : refuse(ERROR_CODES.AUTH_NOT_FOUND, `role ${JSON.stringify(c.role)} grants no permission on exactly that range`);
      }
    }
  }

  private change(c: AuthCommand, index: number): void {
    const setUser = (name: string, change: Partial<UserRecord>): void => {
      this.users.set(name, { ...this.users.get(name)!, ...change });
    };
    switch (c.op) {
      case 'authEnable': {
        const root = this.users.get(ROOT_USER)!;
        if (!root.roles.includes(ROOT_ROLE)) setUser(ROOT_USER, { roles: [...root.roles, ROOT_ROLE] });
        this.enabledNow = true;
        return;
      }
      case 'authDisable':
        this.enabledNow = false;
        return;
      case 'userAdd':
        this.users.set(c.user, { passwordHash: c.passwordHash, passwordRevision: index, roles: [] });
        return;
      case 'userDelete':
        this.users.delete(c.user);
        return;
      case 'userPasswd':
        setUser(c.user, { passwordHash: c.passwordHash, passwordRevision: index });
        return;
      case 'userGrantRole': {
        const roles = this.users.get(c.user)!.roles;
        if (!roles.includes(c.role)) setUser(c.user, { roles: [...roles, c.role].sort() });
        return;
      }
      case 'userRevokeRole':
        setUser(c.user, { roles: this.users.get(c.user)!.roles.filter((r) => r !== c.role) });
        return;
      case 'roleAdd':
        this.roles.set(c.role, []);
        return;
      case 'roleDelete':
        this.roles.delete(c.role);
        for (const [name, u] of this.users) if (u.roles.includes(c.role)) setUser(name, { roles: u.roles.filter((r) => r !== c.role) });
        return;
      case 'roleGrant': {
        const kept = this.roles.get(c.role)!.filter((p) => !sameRange(p, c.permission));
        this.roles.set(c.role, [...kept, c.permission].sort(byRange));
        return;
      }
      case 'roleRevoke':
        this.roles.set(c.role, this.roles.get(c.role)!.filter((p) => !sameRange(p, c)));
        return;
    }
  }

  /**
   * The stored record: msgpack [enabled (0/1), revision, users, roles], users as
   * [name, passwordHash, passwordRevision, [role, …]], roles as [name, [[mode, start, end | null], …]]
   * (mode 0 read, 1 write, 2 readwrite), both in name order.
   */
  encode(): Uint8Array {
    const users = [...this.users].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, u]) => [name, u.passwordHash, u.passwordRevision, u.roles]);
    const roles = [...this.roles]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, ps]) => [name, ps.map((p) => [MODES.indexOf(p.mode), p.start, p.end])]);
    return pack([this.enabledNow ? 1 : 0, this.revisionNow, users, roles]);
  }

  /** Decode a stored record. Throws `StateMachineError('MALFORMED_AUTH')`. */
  static decode(bytes: Uint8Array): AuthState {
    let raw: unknown;
    try {
      raw = unpack(bytes);
    } catch (cause) {
      throw new StateMachineError('MALFORMED_AUTH', 'the auth record is not valid msgpack', { cause });
    }
    const bad = (what: string): never => {
      throw new StateMachineError('MALFORMED_AUTH', `malformed auth record: ${what}`);
    };
    if (!Array.isArray(raw) || raw.length !== 4 || (raw[0] !== 0 && raw[0] !== 1) || !Number.isSafeInteger(raw[1]) || !Array.isArray(raw[2]) || !Array.isArray(raw[3])) {
      return bad('not [enabled, revision, users, roles]');
    }
    const users = new Map<string, UserRecord>();
    for (const u of raw[2] as unknown[]) {
      if (!Array.isArray(u) || u.length !== 4 || nameProblem(u[0]) !== undefined || !(u[1] instanceof Uint8Array) || !Number.isSafeInteger(u[2])) bad('a user');
      const [name, hash, revision, roles] = u as [string, Uint8Array, number, unknown];
      if (!Array.isArray(roles) || roles.some((r) => nameProblem(r) !== undefined)) bad(`the roles of user ${name}`);
      users.set(name, { passwordHash: plainBytes(hash), passwordRevision: revision, roles: roles as string[] });
    }
    const roles = new Map<string, Permission[]>();
    for (const r of raw[3] as unknown[]) {
      if (!Array.isArray(r) || r.length !== 2 || nameProblem(r[0]) !== undefined || !Array.isArray(r[1])) bad('a role');
      const [name, list] = r as [string, unknown[]];
      roles.set(
        name,
        list.map((p) => {
          const mode = Array.isArray(p) ? MODES[p[0] as number] : undefined;
          if (!Array.isArray(p) || p.length !== 3 || mode === undefined || rangeProblem(p[1], p[2]) !== undefined) return bad(`a permission of role ${name}`);
          return { mode, start: plainBytes(p[1] as Uint8Array), end: p[2] === null ? null : plainBytes(p[2] as Uint8Array) };
        }),
      );
    }
    return new AuthState(raw[0] === 1, raw[1] as number, users, roles);
  }
}

/** Every key of `[start, end)` lies in one of `granted` (sorted, disjoint, as `Grants` holds them). An empty range is covered. */
export function covers(granted: readonly KeyInterval[], start: Uint8Array, end: Uint8Array | null): boolean {
  if (end !== null && Buffer.compare(start, end) >= 0) return true;
  for (const g of granted) {
    if (Buffer.compare(g.start, start) > 0) return false; // sorted: no later interval starts at or before `start`
    if (g.end === null) return true;
    if (Buffer.compare(g.end, start) > 0) return end !== null && Buffer.compare(g.end, end) >= 0;
  }
  return false;
}

/** Sorted, with overlapping and adjacent intervals joined. */
function mergeIntervals(list: readonly KeyInterval[]): KeyInterval[] {
  const sorted = [...list].sort(byRange);
  const out: Array<{ start: Uint8Array; end: Uint8Array | null }> = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && (last.end === null || Buffer.compare(iv.start, last.end) <= 0)) {
      if (last.end !== null && (iv.end === null || Buffer.compare(iv.end, last.end) > 0)) last.end = iv.end;
    } else {
      out.push({ start: iv.start, end: iv.end });
    }
  }
  return out;
}

function byRange(a: KeyInterval, b: KeyInterval): number {
  return Buffer.compare(a.start, b.start) || (a.end === null ? (b.end === null ? 0 : 1) : b.end === null ? -1 : Buffer.compare(a.end, b.end));
}

function sameRange(a: KeyInterval, b: KeyInterval): boolean {
  return byRange(a, b) === 0;
}

function refuse(code: ErrorCode, message: string): WireError {
  return { code, message, definite: true };
}

