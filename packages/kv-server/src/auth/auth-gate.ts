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
 *   the node that proposes them, against its applied auth state, and carry the user and that
 *   state's revision into the log (`AuthorizedAs`; commands.ts code 40): when auth changed before
 *   the write applies (a role revoked, a user deleted, a permission removed, a snapshot), every
 *   replica checks it again against the auth state then and refuses it PERMISSION_DENIED
 *   (state-machine.ts), so no write applies after the revocation that forbids it. Writes of the
 *   user root carry nothing: root cannot lose its role or be deleted while auth is enabled. A
 *   lease revoke is checked against the keys the lease holds (when it arrives, and when it
 *   applies if auth changed between): a key attached in between is deleted with it (attaching
 *   needs write on that key, as every put does).
 * - One decision for all of these: access.ts.
 * - Watches are checked when they open and again before each frame of events they send.
 * - `authenticate` runs scrypt off the event loop through the node's `PasswordHasher` (bounded:
 *   OVERLOADED beyond it) and one at a time per connection.
 */
import { ERROR_CODES, KeelError, ROOT_USER, type ClientRequest } from '@keel/protocol';
import type { ConnectionIdentity } from '../client-port/client-connection.js';
import type { AnyResult } from '../node/client-requests.js';
import type { AuthState } from '../state-machine/auth-state.js';
import type { AuthorizedAs } from '../state-machine/commands.js';
import { accessDenial, type LeaseKeys } from './access.js';
import type { PasswordHasher } from './password-hash.js';
import { requirementOf, type Requirement } from './permissions.js';

export interface AuthGateOptions {
  /** The auth state as of the node's applied index (read anew on every call). */
  readonly auth: () => AuthState;
  readonly passwords: PasswordHasher;
  /** The keys lease `id` holds as of the node's applied index; undefined when it does not exist. */
  readonly leaseKeys: LeaseKeys;
  /**
   * Run the request; `authorize` re-checks it (call it once a linearizable read's index applied).
   * `as`: the user it was checked for and the auth revision it was checked at, which a write
   * carries into the log (undefined: auth disabled, the user root, or an op anyone may call).
   */
  readonly run: (request: ClientRequest, authorize: () => void, as: AuthorizedAs | undefined) => Promise<AnyResult>;
}

export class AuthGate {
  constructor(private readonly o: AuthGateOptions) {}

  async handle(request: ClientRequest, identity: ConnectionIdentity): Promise<AnyResult> {
    if (request.op === 'authenticate') return this.authenticate(request.user, request.password, identity);
    // The requirement is worked out only once auth is on (it allocates key intervals per request).
    let requirement: Requirement | undefined;
    const authorize = (): AuthorizedAs | undefined => {
      if (!this.o.auth().enabled) return undefined;
      requirement ??= requirementOf(request);
      return this.authorize(requirement, identity);
    };
    return this.o.run(request, authorize, authorize());
  }

  /**
   * A watch: checked now (throws when it may not open), and the returned check throws once the
   * connection's user may no longer read the watched range: the connection runs it before each
   * frame, so no event is sent after a revocation.
   */
  authorizeWatch(request: Extract<ClientRequest, { op: 'watch' }>, identity: ConnectionIdentity): () => void {
    const requirement = requirementOf(request);
    const authorize = (): void => {
      this.authorize(requirement, identity);
    };
    authorize();
    return authorize;
  }

  /**
   * Throws AUTH_REQUIRED or PERMISSION_DENIED unless the connection's user may do what
   * `requirement` says; when it may, the user and the auth revision of the check (undefined when
   * no user was needed, or it is root).
   */
  private authorize(requirement: Requirement, identity: ConnectionIdentity): AuthorizedAs | undefined {
    const auth = this.o.auth();
    if (!auth.enabled || requirement.kind === 'anyone') return undefined;
    const user = userOf(auth, identity);
    const denial = accessDenial(auth, user, requirement, this.o.leaseKeys);
    if (denial !== undefined) throw new KeelError(ERROR_CODES.PERMISSION_DENIED, denial);
    return user === ROOT_USER ? undefined : { user, authRevision: auth.revision };
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
