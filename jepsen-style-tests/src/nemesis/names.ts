/**
 * The nemeses, by the names the command line takes (issue 8), and the family each belongs to.
 * The family is the `kind` of its intervals in the nemesis timeline (the report colours by it).
 */

/** Every fault the nemesis can inject. */
export const FAULTS = [
  'isolate-follower',
  'isolate-leader',
  'majority-split',
  'bridge',
  'ring',
  'asymmetric',
  'kill-one',
  'kill-leader',
  'kill-majority',
  'kill-all',
  'pause-leader',
  'pause-follower',
  'membership',
  'transfer',
] as const;

export type FaultName = (typeof FAULTS)[number];

/** `mixed` draws every fault from the seed. */
export const NEMESES = [...FAULTS, 'mixed'] as const;

export type NemesisName = (typeof NEMESES)[number];

export type FaultKind = 'partition' | 'kill' | 'pause' | 'membership' | 'transfer';

export const FAULT_KIND: Readonly<Record<FaultName, FaultKind>> = {
  'isolate-follower': 'partition',
  'isolate-leader': 'partition',
  'majority-split': 'partition',
  bridge: 'partition',
  ring: 'partition',
  asymmetric: 'partition',
  'kill-one': 'kill',
  'kill-leader': 'kill',
  'kill-majority': 'kill',
  'kill-all': 'kill',
  'pause-leader': 'pause',
  'pause-follower': 'pause',
  membership: 'membership',
  transfer: 'transfer',
};

export function isNemesisName(name: string): name is NemesisName {
  return (NEMESES as readonly string[]).includes(name);
}
