import { mkdir, readdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomically } from '../atomic-write.js';
import { writeHistoryFile } from '../history/jsonl.js';
import type { Op } from '../history/op.js';
import { renderReport } from './html.js';
import type { RunMeta, RunResults } from './results.js';

/**
 * Run directories: `jepsen-style-tests/store/<run-id>/` holds `history.jsonl`, `results.json`,
 * `report.html` and the node logs the runner copies in (`*.log`); `store/latest` is a symlink to
 * the newest run. The store is git-ignored.
 */

/** `jepsen-style-tests/store/` (resolved from this module, so it works from `src/` and `dist/`). */
export const STORE_DIR = fileURLToPath(new URL('../../store/', import.meta.url));

export const RUN_FILES = { history: 'history.jsonl', results: 'results.json', report: 'report.html' } as const;

/** `20250314-101501-register-isolate-leader-s42`: sortable by start time, readable in `ls`. */
export function newRunId(meta: Pick<RunMeta, 'workload' | 'nemesis' | 'seed'>, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${stamp}-${slug(meta.workload)}-${slug(meta.nemesis)}${meta.seed === undefined ? '' : `-s${meta.seed}`}`;
}

/**
 * Creates `<root>/<id>/` (with a `-2`, `-3`, … suffix if the name is taken) and points
 * `<root>/latest` at it. Returns the id actually used and the directory.
 */
export async function createRunDir(id: string, root: string = STORE_DIR): Promise<{ id: string; dir: string }> {
  await mkdir(root, { recursive: true });
  let chosen = id;
  for (let k = 2; ; k++) {
    try {
      await mkdir(join(root, chosen));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      chosen = `${id}-${k}`;
    }
  }
  const tmp = join(root, `.latest-${process.pid}`);
  await symlink(chosen, tmp);
  await rename(tmp, join(root, 'latest'));
  return { id: chosen, dir: join(root, chosen) };
}

export interface RunFilesInput {
  readonly history: readonly Op[];
  readonly results: RunResults;
}

/**
 * Writes `history.jsonl`, `results.json` and `report.html` into `dir` (each atomically, so a
 * reader never sees half a file). If the runner streamed the history into `history.jsonl` with a
 * `HistoryWriter`, it is rewritten with the same events. Node logs (`*.log`) already in `dir`
 * are linked from the report.
 */
export async function writeRun(dir: string, input: RunFilesInput): Promise<{ history: string; results: string; report: string }> {
  const paths = { history: join(dir, RUN_FILES.history), results: join(dir, RUN_FILES.results), report: join(dir, RUN_FILES.report) };
  await writeHistoryFile(paths.history, input.history);
  await writeFileAtomically(paths.results, `${JSON.stringify(input.results, null, 2)}\n`);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
  await writeFileAtomically(paths.report, renderReport({ results: input.results, history: input.history, files }));
  return paths;
}

