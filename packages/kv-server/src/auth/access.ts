/**
 * The one decision whether a user may do what a requirement (permissions.ts) says, against an
 * auth state: the auth gate takes it when a request arrives (auth-gate.ts), the state machine
 * again when a write checked at an older auth revision applies (state-machine.ts). Pure and
 * deterministic: every replica decides the same from the same auth state and lease table.
 *
 * Auth disabled, or a requirement of `anyone`: allowed. Otherwise the user must exist; then a
 * `user` requirement is met, the `root` role meets every requirement, `root` needs it, and
 * `keys` and `lease` need the user's read or write grants to cover every key interval (a lease:
 * every key it holds now; a lease that does not exist holds nothing).
 */
import { covers, type AuthState } from '../state-machine/auth-state.js';
import { key, type Requirement } from './permissions.js';

/** The keys lease `id` holds now; undefined when it does not exist. */
export type LeaseKeys = (id: number) => Iterable<Uint8Array> | undefined;

/** Why `user` may not do what `requirement` says (a message naming the user and the kind of access, never a key), or undefined when it may. */
export function accessDenial(auth: AuthState, user: string, requirement: Requirement, leaseKeys: LeaseKeys): string | undefined {
  if (!auth.enabled || requirement.kind === 'anyone') return undefined;
  const name = JSON.stringify(user);
  if (auth.user(user) === undefined) return `user ${name} does not exist`;
  if (requirement.kind === 'user') return undefined;
  const grants = auth.grants(user);
  if (grants.root) return undefined;
  if (requirement.kind === 'root') return `user ${name} may not do this: it needs the root role`;
  if (requirement.kind === 'lease') {
    const granted = requirement.access === 'read' ? grants.read : grants.write;
    for (const k of leaseKeys(requirement.lease) ?? []) {
      const iv = key(k);
      if (!covers(granted, iv.start, iv.end)) return `user ${name} may not ${requirement.access} every key this lease holds`;
    }
    return undefined;
  }
  for (const r of requirement.read) {
    if (!covers(grants.read, r.start, r.end)) return `user ${name} may not read every key this request reads`;
  }
  for (const w of requirement.write) {
    if (!covers(grants.write, w.start, w.end)) return `user ${name} may not write every key this request writes`;
  }
  return undefined;
}
