/**
 * What the netns tests look at from outside the harness: the kernel's own view of TCP
 * connections in a namespace (`ss`), and the host's namespaces, links, routes and firewall.
 */
import { execFileSync } from 'node:child_process';
import { NetnsNetwork } from '@keel/test-support';

/** Whether these tests can run here; when not, the suite says why in its name and on stderr. */
export const availability = await NetnsNetwork.available();
export const unavailable = availability.ok ? undefined : availability.reason;
if (unavailable !== undefined) console.warn(`SKIPPED (netns): ${unavailable}`);

/** "<title>", or "<title> — SKIPPED: <why>" where the netns network cannot run. */
export function netnsSuite(title: string): string {
  return unavailable === undefined ? title : `${title} — SKIPPED: ${unavailable}`;
}

export function sh(argv: readonly string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
}

/** One TCP connection as `ss -tnai` shows it inside a namespace. */
export interface Socket {
  readonly state: string;
  readonly sendQ: number;
  readonly local: string;
  readonly peer: string;
  /** Exponential backoff of the retransmission timer (0 when it has not fired). */
  readonly backoff: number;
  /** Segments sent and not acknowledged. */
  readonly unacked: number;
}

export function sockets(namespace: string): Socket[] {
  const out: Socket[] = [];
  for (const line of sh(['ip', 'netns', 'exec', namespace, 'ss', '-tnaiH']).split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      const last = out.pop()!;
      const field = (name: string): number => Number(new RegExp(`\\b${name}:(\\d+)`).exec(line)?.[1] ?? 0);
      out.push({ ...last, backoff: field('backoff'), unacked: field('unacked') });
      continue;
    }
    const [state, , sendQ, local, peer] = line.trim().split(/\s+/);
    out.push({ state: state!, sendQ: Number(sendQ), local: local!, peer: peer!, backoff: 0, unacked: 0 });
  }
  return out;
}

/** What the host holds that a netns network could leave behind, and its firewall. */
export interface HostState {
  readonly namespaces: string[];
  readonly links: string[];
  readonly routes: string[];
  /** Every table of the root namespace's iptables (`iptables-save`, without comments and counters). */
  readonly firewall: string;
}

export function hostState(): HostState {
  const links = JSON.parse(sh(['ip', '-j', 'link', 'show'])) as { ifname: string }[];
  const routes = JSON.parse(sh(['ip', '-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string; dev: string }[];
  return {
    namespaces: sh(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== ''),
    links: links.map((l) => l.ifname),
    routes: routes.map((r) => `${r.dst} dev ${r.dev}`),
    firewall: sh(['iptables-save'])
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
      .join('\n'),
  };
}

/** What in `state` belongs to `network` (its namespaces, bridge, veths, and routes on its bridge). */
export function owned(state: HostState, network: NetnsNetwork): string[] {
  const tag = network.bridge.slice('kb-'.length);
  return [
    ...state.namespaces.filter((n) => n.startsWith(`${network.run}-`)),
    ...state.links.filter((l) => l.includes(tag)),
    ...state.routes.filter((r) => r.endsWith(` dev ${network.bridge}`)),
  ];
}
