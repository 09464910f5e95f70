/**
 * Directed cuts as iptables rules, in the kernel. Each node's namespace is the harness's own, so
 * its whole `filter` table is derived from the cuts and replaced at once (`iptables-restore`);
 * nothing outside the namespaces holds a rule, and deleting a namespace deletes its rules.
 *
 * `cut(A, B)` means B receives nothing from A, so the rules sit in B's INPUT chain and match
 * TCP packets from A's address on peer connections in either direction: A's dials to B
 * (`--dport <B's peer port>`) and B's dials to A (`--sport <A's peer port>`). Client ports are
 * never matched. To A the packets leave as usual and are lost in the network: a sender's kernel
 * sees nothing locally, as with a pulled cable.
 *
 * What that means for TCP, which needs both directions:
 * - `blackhole` (DROP): connections stay ESTABLISHED on both sides and A's segments are
 *   retransmitted with exponential backoff (after a long cut the next retry can be tens of
 *   seconds away, so a connection may stay silent well after the heal). B's segments still reach
 *   A, but A's acknowledgements do not reach B, so B's side stalls once its congestion window is
 *   spent and then only retransmits. No new connection completes either way: A's SYN is dropped,
 *   and when B dials A, A's SYN-ACK is. A one-way cut therefore stops TCP traffic both ways,
 *   after a few segments from B; only its first moments are asymmetric.
 * - `reset` (REJECT with tcp-reset): a packet from A gets a reset back, as from a firewall that
 *   rejects, so A's end of a peer connection with B is reset when A next sends on it, and A's
 *   new dials are refused. RSTs themselves pass, so when B next sends on a connection whose A
 *   end is gone, A's kernel answers with a reset that reaches B. An end that sends nothing stays
 *   ESTABLISHED (half-open) until it does: keel writes only on its own dials, so the side that
 *   accepted a connection, or an idle follower, learns late. B's new dials to A could never
 *   complete (A's SYN-ACK would be rejected), so A refuses them at once: a rule in A's INPUT
 *   rejects B's SYNs to A's peer port. A reset cut of one direction thus refuses new
 *   connections both ways. An explicit cut `B -> A` wins over that rule.
 */
import type { Cut } from '../network.js';

/** What the rules need to know of a node. */
export interface RuleNode {
  readonly id: number;
  /** Its address in the subnet. */
  readonly address: string;
  readonly peerPort: number;
}

const REJECT = '-j REJECT --reject-with tcp-reset';

/**
 * Loads a `filterTable` (stdin) into the namespace it runs in. `--wait`: the legacy backend's
 * xtables lock is one file for every namespace; the nft backend has none and ignores it.
 */
export const RESTORE: readonly string[] = ['iptables-restore', '--wait=10'];

/** The `filter` table of `node`'s namespace under `cuts` (input for iptables-restore). Cuts to or from unknown nodes are left out. */
export function filterTable(node: RuleNode, nodes: ReadonlyMap<number, RuleNode>, cuts: readonly Cut[]): string {
  const rules: string[] = [];
  for (const c of cuts) {
    const from = nodes.get(c.from);
    if (c.to !== node.id || from === undefined) continue;
    const [match, target] = c.mode === 'blackhole' ? ['', '-j DROP'] : ['! --tcp-flags RST RST ', REJECT];
    rules.push(`-A INPUT -s ${from.address}/32 -p tcp --dport ${node.peerPort} ${match}${target}`);
    rules.push(`-A INPUT -s ${from.address}/32 -p tcp --sport ${from.peerPort} ${match}${target}`);
  }
  for (const c of cuts) {
    const to = nodes.get(c.to);
    if (c.from !== node.id || c.mode !== 'reset' || to === undefined) continue;
    rules.push(`-A INPUT -s ${to.address}/32 -p tcp --dport ${node.peerPort} --syn ${REJECT}`);
  }
  return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...rules, 'COMMIT', ''].join('\n');
}
