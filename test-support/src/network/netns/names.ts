/**
 * What the netns network names its namespaces and links, so that everything one run made is
 * found again: by this run at teardown, and by a later run when this one died without cleaning up.
 *
 * A run is `keel-<pid>-<tag>` (the pid of the process that made it, and 6 random base-36 chars):
 * - node `id`'s namespace is `keel-<pid>-<tag>-<id>` (id 0: the availability probe);
 * - the bridge is `kb-<tag>` (interface names have at most 15 bytes) and carries the run as its
 *   alias (`ip link set … alias`), which names the owning pid;
 * - node `id`'s veth is `kv-<tag>-<id>` on the host, `eth0` inside the namespace. It is created
 *   with its inner end already in the namespace, so it never outlives it.
 * A leftover is a namespace or bridge of this form whose pid is dead.
 */
import { randomBytes } from 'node:crypto';

const TAG = '[0-9a-z]{6}';
const NAMESPACE = new RegExp(`^keel-(\\d+)-(${TAG})-(\\d+)$`);
const BRIDGE = new RegExp(`^kb-(${TAG})$`);
const OWNER = new RegExp(`^keel-(\\d+)-(${TAG})$`);

export interface RunNames {
  /** `keel-<pid>-<tag>`. */
  readonly run: string;
  readonly bridge: string;
  namespace(id: number): string;
  veth(id: number): string;
}

/** Longest node id whose veth name fits in an interface name. */
export const NODE_ID_MAX = 99_999;

export function runNames(pid = process.pid, tag = randomTag()): RunNames {
  const run = `keel-${pid}-${tag}`;
  return {
    run,
    bridge: `kb-${tag}`,
    namespace: (id) => `${run}-${id}`,
    veth: (id) => {
      if (!Number.isSafeInteger(id) || id < 0 || id > NODE_ID_MAX) throw new RangeError(`netns: node ids go up to ${NODE_ID_MAX}, got ${id}`);
      return `kv-${tag}-${id}`;
    },
  };
}

/** The owning pid of a namespace this harness named, or undefined when the name is not one of ours. */
export function namespaceOwner(name: string): number | undefined {
  return parseNamespace(name)?.pid;
}

/** The veth of a namespace this harness named, or undefined when the name is not one of ours. */
export function namespaceVeth(name: string): string | undefined {
  const parsed = parseNamespace(name);
  return parsed === undefined || parsed.id > NODE_ID_MAX ? undefined : runNames(parsed.pid, parsed.tag).veth(parsed.id);
}

function parseNamespace(name: string): { pid: number; tag: string; id: number } | undefined {
  const m = NAMESPACE.exec(name);
  return m === null ? undefined : { pid: Number(m[1]), tag: m[2]!, id: Number(m[3]) };
}

/** The owning pid of a bridge this harness made (its name and alias agree), or undefined. */
export function bridgeOwner(name: string, alias: string | undefined): number | undefined {
  const b = BRIDGE.exec(name);
  const o = alias === undefined ? null : OWNER.exec(alias);
  return b === null || o === null || b[1] !== o[2] ? undefined : Number(o[1]);
}

function randomTag(): string {
  return randomBytes(5).readUIntBE(0, 5).toString(36).padStart(6, '0').slice(-6);
}
