/**
 * Removes what earlier runs of the netns network left behind when their process died without
 * cleaning up (SIGKILL, a crash): namespaces and bridges named by this harness (see names.ts)
 * whose owning pid is no longer alive. Anything else — another tool's namespaces, a live run's,
 * a name that merely looks similar — is left alone. The keel-server processes still running in
 * such a namespace are killed by pid first (nobody is left to stop them, and they keep the
 * namespace alive); the rules went into the namespaces, so they go with them.
 *
 * A pid reused by an unrelated process keeps that run's leftovers until the process ends.
 */
import { readFileSync } from 'node:fs';
import { isProcessAlive as isAlive } from '@keel/kv-server';
import { IP_BATCH, run } from './command.js';
import { bridgeOwner, namespaceOwner, namespaceVeth } from './names.js';

/** What `removeLeftovers` removed. */
export interface Leftovers {
  readonly namespaces: string[];
  readonly bridges: string[];
  /** keel-server pids killed inside those namespaces. */
  readonly killed: number[];
}

const SERVER_SCRIPT = '/packages/kv-server/bin/keel-server.js';

export async function removeLeftovers(): Promise<Leftovers> {
  const dead = (pid: number | undefined): boolean => pid !== undefined && pid !== process.pid && !isAlive(pid);
  const namespaces = (await listNamespaces()).filter((ns) => dead(namespaceOwner(ns)));
  const killed: number[] = [];
  for (const ns of namespaces) {
    for (const pid of await namespacePids(ns)) {
      if (!isServer(pid)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone meanwhile
      }
    }
  }
  const bridges = (await listBridges()).filter((b) => dead(bridgeOwner(b.ifname, b.ifalias))).map((b) => b.ifname);
  // Each veth explicitly, as close() does: the kernel destroys a deleted namespace's devices later.
  const batch = [
    ...namespaces.flatMap((ns) => [...[namespaceVeth(ns)].filter((v) => v !== undefined).map((v) => `link delete ${v}\n`), `netns delete ${ns}\n`]),
    ...bridges.map((b) => `link delete ${b}\n`),
  ].join('');
  if (batch !== '') await run(IP_BATCH, batch).catch(() => undefined); // another process may be sweeping too
  return { namespaces, bridges, killed };
}

/** Every named network namespace (`ip netns list`). */
async function listNamespaces(): Promise<string[]> {
  return (await run(['ip', 'netns', 'list']))
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name !== '');
}

/** Every bridge on the host, with its alias. */
async function listBridges(): Promise<{ ifname: string; ifalias?: string }[]> {
  return JSON.parse((await run(['ip', '-j', 'link', 'show', 'type', 'bridge'])) || '[]') as { ifname: string; ifalias?: string }[];
}

async function namespacePids(ns: string): Promise<number[]> {
  try {
    return (await run(['ip', 'netns', 'pids', ns])).split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return []; // deleted meanwhile (another process sweeping)
  }
}

/** Whether `pid` runs keel-server (`node [node flags] …/packages/kv-server/bin/keel-server.js …`). */
function isServer(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    // The script is Node's first argument that is not a flag (SERVER_NODE_FLAGS come first).
    return argv.slice(1).find((arg) => !arg.startsWith('-'))?.endsWith(SERVER_SCRIPT) === true;
  } catch {
    return false;
  }
}
