/**
 * The auth gate in front of a node's client requests: it authenticates connections and checks
 * every request against the replicated auth state before the node sees it.
 *
 * - Auth disabled: every request passes (an `authenticate` still checks the password, so clients
 *   that always authenticate keep working when auth is enabled later).
 * - Auth enabled: a request runs as the connection's user — the one it authenticated as, if that
 *   user still exists with the same password (else AUTH_REQUIRED: a deleted user or a changed
 *   password ends existing sessions), or else the common name of its verified client certificate
 *   when that names a user. No user: AUTH_REQUIRED (except for the ops anyone may call). Then the
 *   request's requirement (permissions.ts) is checked against the user's roles as they are now,
 *   so a revoked role denies the connection's next request: PERMISSION_DENIED, whose message
 *   names the user and the kind of access, never a key.
 * - Linearizable reads are checked again once their read index applied (the auth state is then at
 *   least as new as the moment the read began, whichever node serves it). Writes are checked on
 *   the leader that proposes them, against its applied auth state. A lease revoke is checked
 *   against the keys the lease holds on the node that receives it: a key attached in between is
 *   deleted with it (attaching needs write on that key, as every put does).
 * - Watches are checked when they open and again before each frame of events they send.
 * - `authenticate` runs scrypt off the event loop through the node's `PasswordHasher` (bounded:
 *   OVERLOADED beyond it) and one at a time per connection.
 */
import { ERROR_CODES, KeelError, type ClientRequest } from '@keel/protocol';
import type { ConnectionIdentity } from '../client-port/client-connection.js';
import type { AnyResult } from '../node/client-requests.js';
import { covers, type AuthState } from '../state-machine/auth-state.js';
import type { PasswordHasher } from './password-hash.js';
import { key, requirementOf, type Requirement } from './permissions.js';

export interface AuthGateOptions {
  /** The auth state as of the node's applied index (read anew on every call). */
  readonly auth: () => AuthState;
  readonly passwords: PasswordHasher;
  /** The keys lease `id` holds as of the node's applied index; undefined when it does not exist. */
  readonly leaseKeys: (id: number) => Iterable<Uint8Array> | undefined;
  /** Run the request; `authorize` re-checks it (call it once a linearizable read's index applied). */
  readonly run: (request: ClientRequest, authorize: () => void) => Promise<AnyResult>;
}

export class AuthGate {
  constructor(private readonly o: AuthGateOptions) {}

  async handle(request: ClientRequest, identity: ConnectionIdentity): Promise<AnyResult> {
    if (request.op === 'authenticate') return this.authenticate(request.user, request.password, identity);
    return this.o.run(request, this.check(request, identity));
  }

  /**
   * A watch: checked now (throws when it may not open), and the returned check throws once the
   * connection's user may no longer read the watched range: the connection runs it before each
   * frame, so no event is sent after a revocation.
   */
  authorizeWatch(request: Extract<ClientRequest, { op: 'watch' }>, identity: ConnectionIdentity): () => void {
    return this.check(request, identity);
  }

  /** Checks `request` now (throws when refused) and returns the same check, to run again later. */
  private check(request: ClientRequest, identity: ConnectionIdentity): () => void {
    const requirement = requirementOf(request);
    const authorize = (): void => this.authorize(requirement, identity);
    authorize();
    return authorize;
  }

  /** Throws AUTH_REQUIRED or PERMISSION_DENIED unless the connection's user may do what `requirement` says. */
  private authorize(requirement: Requirement, identity: ConnectionIdentity): void {
    const auth = this.o.auth();
    if (!auth.enabled || requirement.kind === 'anyone') return;
    const user = userOf(auth, identity);
    if (requirement.kind === 'user') return;
    const grants = auth.grants(user);
    if (grants.root) return;
    if (requirement.kind === 'root') throw denied(`user ${JSON.stringify(user)} may not do this: it needs the root role`);
    if (requirement.kind === 'lease') {
      // A lease that does not exist holds nothing: the node answers LEASE_NOT_FOUND.
      const held = [...(this.o.leaseKeys(requirement.lease) ?? [])].map(key);
      const granted = requirement.access === 'read' ? grants.read : grants.write;
      for (const k of held) {
        if (!covers(granted, k.start, k.end)) throw denied(`user ${JSON.stringify(user)} may not ${requirement.access} every key this lease holds`);
      }
      return;
    }
    for (const r of requirement.read) {
      if (!covers(grants.read, r.start, r.end)) throw denied(`user ${JSON.stringify(user)} may not read every key this request reads`);
    }
    for (const w of requirement.write) {
      if (!covers(grants.write, w.start, w.end)) throw denied(`user ${JSON.stringify(user)} may not write every key this request writes`);
    }
  }

  private async authenticate(name: string, password: string, identity: ConnectionIdentity): Promise<AnyResult> {
    if (identity.authenticating) throw new KeelError(ERROR_CODES.OVERLOADED, 'an authenticate is already running on this connection');
    identity.authenticating = true;
    try {
      const before = this.o.auth().user(name);
      const ok = await this.o.passwords.verify(before?.passwordHash, password);
      const now = this.o.auth().user(name);
      if (!ok || before === undefined || now?.passwordRevision !== before.passwordRevision) {
        identity.user = undefined;
        throw new KeelError(ERROR_CODES.AUTH_FAILED, 'authentication failed: wrong user name or password');
      }
      identity.user = { name, passwordRevision: before.passwordRevision };
      return { user: name };
    } finally {
      identity.authenticating = false;
    }
  }
}

/** The user a request on this connection runs as, or AUTH_REQUIRED. */
function userOf(auth: AuthState, identity: ConnectionIdentity): string {
  const session = identity.user;
  if (session !== undefined) {
    if (auth.user(session.name)?.passwordRevision === session.passwordRevision) return session.name;
    identity.user = undefined;
    throw new KeelError(ERROR_CODES.AUTH_REQUIRED, `user ${JSON.stringify(session.name)} was deleted or its password changed: authenticate again`);
  }
  const cn = identity.certificateName;
  if (cn !== undefined && auth.user(cn) !== undefined) return cn;
  throw new KeelError(
    ERROR_CODES.AUTH_REQUIRED,
    cn !== undefined
      ? `auth is enabled and the client certificate's common name ${JSON.stringify(cn)} is not a user: authenticate with a user name and password`
      : 'auth is enabled: authenticate with a user name and password (kvctl --user) or a client certificate',
  );
}

function denied(message: string): KeelError {
  return new KeelError(ERROR_CODES.PERMISSION_DENIED, message);
}
