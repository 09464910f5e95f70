/** The IPv4 prefixes the host uses (every address and route of every table), so a subnet can avoid them. */
import { run } from './command.js';
import { parsePrefix, type Prefix } from './subnet.js';

interface Route {
  readonly dst?: string;
  readonly dev?: string;
}

interface Link {
  readonly ifname: string;
  readonly addr_info?: readonly { readonly local?: string; readonly prefixlen?: number }[];
}

/** Every prefix in use on the host, except on `exceptDevice` (the bridge being checked). */
export async function hostPrefixes(exceptDevice?: string): Promise<Prefix[]> {
  const routes = JSON.parse(await run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'])) as Route[];
  const links = JSON.parse(await run(['ip', '-j', '-4', 'addr', 'show'])) as Link[];
  const texts = [
    ...routes.filter((r) => r.dev !== exceptDevice).map((r) => r.dst),
    ...links.filter((l) => l.ifname !== exceptDevice).flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)),
  ];
  const prefixes: Prefix[] = [];
  for (const text of texts) {
    try {
      if (text !== undefined) prefixes.push(parsePrefix(text));
    } catch {
      // not an IPv4 prefix (multicast keywords and the like): nothing to avoid
    }
  }
  return prefixes;
}
