/**
 * The data dir of `pnpm cluster` remembers the layout it was created with (`cluster.json`: node
 * count and base port), because the nodes' stored membership holds those addresses: starting it
 * again with another layout would leave a cluster whose members cannot find each other.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LAYOUT_FILE = 'cluster.json';

export interface Layout {
  readonly nodes: number;
  readonly basePort: number;
}

/** Checks (or records, for a new data dir) the layout; returns true when the data dir is new. Throws with a one-line reason on a mismatch. */
export function checkLayout(dataDir: string, wanted: Layout): boolean {
  const file = join(dataDir, LAYOUT_FILE);
  if (!existsSync(file)) {
    writeFileSync(file, JSON.stringify(wanted) + '\n');
    return true;
  }
  let saved: Layout;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Layout;
  } catch (error) {
    throw new Error(`${file} is unreadable (${(error as Error).message}); use --fresh to start over`);
  }
  if (saved.nodes !== wanted.nodes || saved.basePort !== wanted.basePort) {
    throw new Error(
      `${dataDir} holds a cluster of ${saved.nodes} nodes on base port ${saved.basePort}; ` +
        `start it with --nodes ${saved.nodes} --base-port ${saved.basePort}, or add --fresh to wipe it`,
    );
  }
  return false;
}
