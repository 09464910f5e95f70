/**
 * Whether the netns network can run here: Linux, root, `ip` and `iptables-restore` installed, and
 * the kernel lets this process create a namespace, load DROP and REJECT rules into it and create
 * a bridge (a container without CAP_NET_ADMIN, or without the nf_tables/x_tables modules, fails
 * here rather than in the middle of a test). Probed once per process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { IP_BATCH, run } from './command.js';
import { runNames } from './names.js';
import { RESTORE, filterTable, type RuleNode } from './rules.js';

export type NetnsAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const INSTALL = 'apt-get install iproute2 iptables';
const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

let probed: Promise<NetnsAvailability> | undefined;

export function netnsAvailable(): Promise<NetnsAvailability> {
  return (probed ??= probe());
}

async function probe(): Promise<NetnsAvailability> {
  const no = (reason: string): NetnsAvailability => ({ ok: false, reason: `the netns network cannot run here: ${reason}` });
  if (process.platform !== 'linux') return no(`network namespaces need Linux (this is ${process.platform})`);
  const uid = process.getuid?.();
  if (uid !== 0) return no(`it needs root (uid ${uid}) to create namespaces, a bridge and iptables rules; CI runs as root`);
  for (const tool of ['ip', 'iptables', 'iptables-restore']) {
    try {
      await run([tool, '-V']);
    } catch {
      return no(`\`${tool}\` is missing (${INSTALL})`);
    }
  }
  const names = runNames();
  const ns = names.namespace(0);
  const a: RuleNode = { id: 1, address: '198.18.0.2', peerPort: 2380 };
  const b: RuleNode = { id: 2, address: '198.18.0.3', peerPort: 2380 };
  const nodes = new Map([[1, a], [2, b]]);
  const cuts = [{ from: 2, to: 1, mode: 'blackhole' as const }, { from: 1, to: 2, mode: 'reset' as const }];
  try {
    await run(['ip', 'netns', 'add', ns]);
    // Every form of rule the network writes: DROP, REJECT with and without the RST exception, --syn.
    for (const node of [a, b]) await run(['ip', 'netns', 'exec', ns, ...RESTORE], filterTable(node, nodes, cuts));
    await run(['ip', 'link', 'add', names.bridge, 'type', 'bridge']);
  } catch (error) {
    return no((error as Error).message);
  } finally {
    await run(IP_BATCH, `netns delete ${ns}\nlink delete ${names.bridge}\n`).catch(() => undefined);
  }
  if (existsSync(BRIDGE_NF) && readFileSync(BRIDGE_NF, 'utf8').trim() === '1') {
    const policy = await run(['iptables', '-S', 'FORWARD']).catch(() => '');
    if (policy.includes('-P FORWARD DROP')) {
      return no(
        `bridged packets pass the host's iptables FORWARD chain (br_netfilter: ${BRIDGE_NF} is 1) and its policy is DROP ` +
          '(Docker sets it), so the nodes could not reach each other; the harness changes no host rule: ' +
          'run where net.bridge.bridge-nf-call-iptables=0 or the FORWARD policy is ACCEPT',
      );
    }
  }
  return { ok: true };
}
