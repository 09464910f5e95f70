/**
 * Short Jepsen-style runs on real 3-node clusters, one per nemesis family (partitions, kills and
 * pauses twice), the five workloads across them: each must come out valid (every checker). And the
 * negative control: serializable reads under isolate-leader must be caught (invalid) while the
 * same seed with linearizable reads is valid — the checkers have teeth on real processes too.
 *
 * And two runs in the netns network (each node in its own network namespace, links cut in the
 * kernel), where it can run (Linux, root, `ip`, `iptables`); elsewhere they are skipped, and the
 * title and stderr say why: a partition run that must be valid, and one interrupted while its
 * partition is in force; after each, no namespace, bridge or veth of this process is left (the
 * cut rules live inside the namespaces and go with them).
 *
 * A run's directory is removed when the run came out as expected and kept (its path in the
 * failure message) otherwise.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsNetwork } from '@keel/test-support';
import type { Verdict } from '../src/checker/verdict.js';
import type { NemesisName } from '../src/nemesis/names.js';
import { RUN_DEFAULTS, type RunOptions } from '../src/runner/options.js';
import { runJepsen } from '../src/runner/run.js';

const netns = await NetnsNetwork.available();
if (!netns.ok) console.warn(`SKIPPED (netns run): ${netns.reason}`);

const store = mkdtempSync(join(tmpdir(), 'keel-jepsen-runs-'));
let kept = 0;
afterAll(() => {
  if (kept === 0) rmSync(store, { recursive: true, force: true });
});

/** Long enough for at least one fault (the first starts 2–4 s in) and its healing. */
const TIME_S = 12;
const RUN_TIMEOUT_MS = 240_000;

async function expectRun(options: Partial<RunOptions> & Pick<RunOptions, 'workload' | 'nemesis'>, expected: Verdict): Promise<void> {
  const lines: string[] = [];
  const outcome = await runJepsen({ ...RUN_DEFAULTS, timeSeconds: TIME_S, seed: 1, storeDir: store, ...options }, { out: (l) => lines.push(l) });
  expect(outcome.results.run.net).toBe(options.net ?? RUN_DEFAULTS.net);
  const ok = outcome.results.verdict === expected && outcome.error === undefined;
  if (ok) rmSync(outcome.dir, { recursive: true, force: true });
  else kept++;
  expect(outcome.results.verdict, `expected ${expected}; run kept in ${outcome.dir}\n${[...lines, ...outcome.summary].join('\n')}`).toBe(expected);
  expect(outcome.error).toBeUndefined();
  expect(outcome.results.timeline.length).toBeGreaterThan(0);
}

const families: Array<[string, 'register' | 'set' | 'bank' | 'lock' | 'watch', NemesisName]> = [
  ['partitions', 'register', 'majority-split'],
  ['partitions', 'bank', 'isolate-leader'],
  ['kills', 'set', 'kill-majority'],
  ['kills', 'watch', 'kill-leader'],
  ['pauses', 'register', 'pause-leader'],
  ['pauses', 'lock', 'pause-leader'],
  ['membership', 'set', 'membership'],
  ['transfer', 'register', 'transfer'],
];

describe('Jepsen-style runs on real processes', () => {
  for (const [family, workload, nemesis] of families) {
    it(`${family}: ${workload} under ${nemesis} is valid`, () => expectRun({ workload, nemesis }, 'valid'), RUN_TIMEOUT_MS);
  }

  it('the serializable control: isolate-leader with serializable reads is invalid, the same seed with linearizable reads valid', async () => {
    await expectRun({ workload: 'register', nemesis: 'isolate-leader', readMode: 'serializable', seed: 4 }, 'invalid');
    await expectRun({ workload: 'register', nemesis: 'isolate-leader', readMode: 'linearizable', seed: 4 }, 'valid');
  }, 2 * RUN_TIMEOUT_MS);
});

/** This process's netns leftovers on the host: namespaces of its runs, their bridges and veths (`tags`: runs seen alive). */
function netnsOwned(tags: readonly string[] = []): string[] {
  const sh = (...argv: string[]): string => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const run = `keel-${process.pid}-`;
  const namespaces = sh('ip', 'netns', 'list').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(run));
  const links = (JSON.parse(sh('ip', '-j', 'link', 'show')) as { ifname: string; ifalias?: string }[])
    .filter((l) => l.ifalias?.startsWith(run) === true || tags.some((tag) => l.ifname === `kb-${tag}` || l.ifname.startsWith(`kv-${tag}-`)))
    .map((l) => l.ifname);
  return [...namespaces, ...links];
}

describe.skipIf(!netns.ok)(`Jepsen-style runs in network namespaces${netns.ok ? '' : ` — SKIPPED: ${netns.reason}`}`, () => {
  it('isolate-leader with the register workload, links cut by iptables in the kernel, is valid; nothing of it is left on the host', async () => {
    await expectRun({ workload: 'register', nemesis: 'isolate-leader', net: 'netns' }, 'valid');
    expect(netnsOwned()).toEqual([]);
  }, RUN_TIMEOUT_MS);

  it('a run interrupted while a partition is in force breaks (unknown) and still removes every namespace, bridge and veth it made', async () => {
    const abort = new AbortController();
    let during: string[] = [];
    const outcome = await runJepsen(
      { ...RUN_DEFAULTS, workload: 'register', nemesis: 'majority-split', net: 'netns', timeSeconds: TIME_S, seed: 2, storeDir: store },
      {
        signal: abort.signal,
        out: (line) => {
          if (!line.includes(' fault: ') || abort.signal.aborted) return;
          during = netnsOwned();
          abort.abort();
        },
      },
    );
    rmSync(outcome.dir, { recursive: true, force: true });
    expect(outcome.error).toBe('interrupted');
    expect(outcome.results.verdict).toBe('unknown');
    const namespaces = during.filter((n) => n.startsWith(`keel-${process.pid}-`));
    expect(namespaces).toHaveLength(RUN_DEFAULTS.nodes); // the partition was in force in these
    const tags = [...new Set(namespaces.map((n) => n.split('-')[2]!))];
    expect(netnsOwned(tags)).toEqual([]);
  }, RUN_TIMEOUT_MS);
});
