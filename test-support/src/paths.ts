/**
 * Where the repository's built programs are. The harness runs from its TypeScript sources (in
 * vitest) and from `dist/` (the `pnpm cluster` CLI); both are two levels below the repository.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_BIN = join(ROOT, 'packages/kv-server/bin/keel-server.js');
/**
 * The Node flags every keel-server process runs with (the bin's shebang line carries the same;
 * README, *Running a node*). `--initial-old-space-size=256`: a node's old generation holds only
 * ~15 MB of live objects, and V8 sized its limit from that, so the leader ran a full collection
 * every ~0.6 s at 64 puts in flight (31 in 20 s, pauses up to 20 ms: 46-54% of the slowest 1% of
 * puts overlapped a collector pause); with it, 0-1 in 20 s (4-22%), for ~50 MiB more RSS.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=256'];
export const KVCTL_BIN = join(ROOT, 'packages/client/bin/kvctl.js');
/** The built `pnpm cluster` CLI. */
export const CLUSTER_CLI = join(ROOT, 'test-support/dist/cli/cluster.js');

const BUILT = ['packages/kv-server/dist/cli/main.js', 'packages/client/dist/cli/main.js'];

/** Fails loudly when the packages were not built (every process the harness starts runs `dist/`). */
export function requireBuilt(): void {
  for (const f of BUILT) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npx --yes pnpm@10 build\` first`);
  }
}
