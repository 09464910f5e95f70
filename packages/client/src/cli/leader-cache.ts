/**
 * kvctl remembers the last leader it saw for each set of endpoints, so that the next run sends its
 * request to the leader at once instead of searching (and one sick endpoint costs nothing).
 *
 * The file is `$XDG_CACHE_HOME/keel/leader.json` (default `~/.cache/keel/leader.json`):
 *
 *   { "version": 1, "entries": { "<endpoints, sorted, comma-separated>": { "leader": "host:port", "seenAt": <ms since epoch> } } }
 *
 * It is only a hint: a missing, unreadable or corrupt file, or a stale entry, costs a search or a
 * redirect, never a wrong answer. Writes go to a temporary file renamed over the old one, so a
 * reader sees either the old or the new file, never a torn one; concurrent runs may lose each
 * other's updates (the last rename wins), which only costs a search. At most
 * `LEADER_CACHE_ENTRIES_MAX` endpoint sets are kept, the most recently seen.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseAddress } from '../validate.js';

export const LEADER_CACHE_ENTRIES_MAX = 32;
const VERSION = 1;

interface Entry {
  readonly leader: string;
  readonly seenAt: number;
}

/** Where the cache lives, given the environment. */
export function leaderCachePath(env: Readonly<Record<string, string | undefined>>): string {
  const base = env['XDG_CACHE_HOME'] !== undefined && env['XDG_CACHE_HOME'] !== '' ? env['XDG_CACHE_HOME'] : join(homedir(), '.cache');
  return join(base, 'keel', 'leader.json');
}

/** The key of an endpoint list: order and repeats do not matter. */
function keyOf(endpoints: readonly string[]): string {
  return [...new Set(endpoints)].sort().join(',');
}

export class LeaderCache {
  constructor(readonly path: string) {}

  /** The leader last seen for `endpoints`, if the file says so. */
  read(endpoints: readonly string[]): string | undefined {
    return this.load().get(keyOf(endpoints))?.leader;
  }

  /** Records `leader` for `endpoints`. Failures (read-only home, full disk) are ignored: it is a cache. */
  write(endpoints: readonly string[], leader: string, nowMs = Date.now()): void {
    const entries = this.load();
    entries.set(keyOf(endpoints), { leader, seenAt: nowMs });
    const kept = [...entries].sort((a, b) => b[1].seenAt - a[1].seenAt).slice(0, LEADER_CACHE_ENTRIES_MAX);
    const text = JSON.stringify({ version: VERSION, entries: Object.fromEntries(kept) }) + '\n';
    const dir = join(this.path, '..');
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(temp, text, { mode: 0o600 });
      renameSync(temp, this.path);
    } catch {
      rmSync(temp, { force: true });
    }
  }

  /** The valid entries of the file; anything unreadable or malformed is skipped. */
  private load(): Map<string, Entry> {
    const entries = new Map<string, Entry>();
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return entries;
    }
    if (typeof parsed !== 'object' || parsed === null) return entries;
    const file = parsed as { version?: unknown; entries?: unknown };
    if (file.version !== VERSION || typeof file.entries !== 'object' || file.entries === null) return entries;
    for (const [key, value] of Object.entries(file.entries as Record<string, unknown>)) {
      const e = value as Partial<Entry> | null;
      if (typeof e !== 'object' || e === null) continue;
      if (typeof e.leader !== 'string' || parseAddress(e.leader) === undefined) continue;
      if (typeof e.seenAt !== 'number' || !Number.isFinite(e.seenAt)) continue;
      entries.set(key, { leader: e.leader, seenAt: e.seenAt });
    }
    return entries;
  }
}
