/**
 * The watch workload: logical clients change keys under `watch/a/` and `watch/b/` (a put of a
 * value unique across the run, or a delete), recording each `change` with its revision; beside
 * them, WATCHERS watches (`KeelClient.watch({ prefix }, { fromRevision })`), each one `watch`
 * operation from its start to its end, whose completion carries every event it delivered. The
 * first watches `watch/` from revision 1 at once; the others start during the first half of the
 * run on a prefix drawn from PREFIXES, from the revision after the newest change acknowledged so
 * far or from up to REPLAY_MAX revisions before it (replaying history). A watch resumes by itself
 * across node failures; one that ends with an error is recorded `fail`/`info` with that error.
 *
 * After healing (`finish`), the workload makes one last change under each of `watch/a/` and
 * `watch/b/`, waits up to DELIVER_WAIT_MS until every watcher delivered the last changes of its
 * prefix, and ends the watches: `ok` for those that delivered them, `info` otherwise. The watch
 * checker then asks that every watcher delivered exactly the committed changes of its keys.
 */
import { isKeelError, type KeelClient, type KeelWatch, type WatchChange } from '@keel/client';
import type { Scalar, WatchEvent } from '../history/op.js';
import type { Rng } from '../rng.js';
import { decodeValue, encodeValue, outcome } from './outcome.js';
import type { Completion, Invocation } from './recorder.js';
import type { Background, Role, Workload } from './workload.js';

export const WATCH_PREFIX = 'watch/';
/** Where the changes go; the last changes after healing go under each. */
export const CHANGE_PREFIXES = ['watch/a/', 'watch/b/'] as const;
/** What a watcher watches. */
export const PREFIXES = [WATCH_PREFIX, ...CHANGE_PREFIXES] as const;
/** Keys per change prefix: few, so that deletes often find a key. */
export const KEYS_PER_PREFIX = 4;
/** Watches per run. */
export const WATCHERS = 4;
/** A watcher may start this many revisions before the newest change acknowledged. */
export const REPLAY_MAX = 200;
/** How long the watchers get, after the last changes, to deliver them. */
export const DELIVER_WAIT_MS = 15_000;
/** Attempts at each last change (a fresh value each time). */
const LAST_CHANGE_ATTEMPTS = 5;
const DELIVER_POLL_MS = 20;

const MIX = { put: 75, delete: 25 } as const;

/** A watch in progress: what it delivered so far, and how the workload ends it. */
interface Watcher {
  readonly prefix: string;
  readonly events: WatchEvent[];
  readonly watch: KeelWatch;
  /** Set by `finish` just before it cancels the watch. */
  ending?: Completion;
}

export const toEvent = (c: WatchChange): WatchEvent => [c.revision, c.kv.keyText, c.type === 'delete' ? null : decodeValue(c.kv.text)];
const slot = (e: WatchEvent): string => `${e[0]} ${e[1]}`;

export class WatchWorkload implements Workload {
  readonly name = 'watch';
  readonly setup: readonly Invocation[] = [];
  readonly final: readonly Invocation[] = [];
  readonly background: Background = {
    count: WATCHERS,
    next: (rng, i) => this.nextWatch(rng, i),
    finish: (record) => this.finish(record),
  };
  private nextValue = 1;
  /** The newest revision of an acknowledged change. */
  private newest = 0;
  private readonly watchers = new Set<Watcher>();

  next(rng: Rng, _role: Role): Invocation {
    const key = `${rng.pick(CHANGE_PREFIXES)}${rng.int(KEYS_PER_PREFIX)}`;
    return rng.weighted(MIX) === 'delete' ? { f: 'change', key, value: null } : this.put(key);
  }

  observe(_call: Invocation, done: Completion): void {
    if (done.revision !== undefined) this.newest = Math.max(this.newest, done.revision);
  }

  execute(client: KeelClient, call: Invocation): Promise<Completion> {
    switch (call.f) {
      case 'change':
        return outcome(async () => {
          if (call.value !== null) return { type: 'ok', value: call.value, revision: (await client.put(call.key, encodeValue(call.value as Scalar))).revision };
          const r = await client.delete(call.key);
          return { type: 'ok', value: null, ...(r.deleted ? { revision: r.revision } : {}) };
        }, call.value);
      case 'watch':
        return this.watch(client, call);
      default:
        throw new TypeError(`the watch workload has no ${call.f} operation`);
    }
  }

  private put(key: string): Invocation {
    return { f: 'change', key, value: this.nextValue++ };
  }

  private nextWatch(rng: Rng, i: number): Invocation {
    if (i === 0) return { f: 'watch', key: WATCH_PREFIX, value: 1 };
    const from = rng.chance(0.5) ? this.newest + 1 : Math.max(1, this.newest + 1 - rng.int(REPLAY_MAX));
    return { f: 'watch', key: rng.pick(PREFIXES), value: from };
  }

  /** One watcher, from its start until `finish` ends it or the watch fails. */
  private async watch(client: KeelClient, call: Invocation): Promise<Completion> {
    const watcher: Watcher = { prefix: call.key, events: [], watch: client.watch({ prefix: call.key }, { fromRevision: call.value as number }) };
    this.watchers.add(watcher);
    try {
      for await (const change of watcher.watch) watcher.events.push(toEvent(change));
      return watcher.ending ?? { type: 'info', value: watcher.events, error: { code: 'ENDED', message: 'the watch ended without an error before the workload ended it' } };
    } catch (error) {
      if (!isKeelError(error)) throw error;
      return { type: error.definite ? 'fail' : 'info', value: watcher.events, error: { code: error.code, message: error.message } };
    } finally {
      this.watchers.delete(watcher);
    }
  }

  /**
   * After healing: one last change under each change prefix, then every watcher still running
   * ends — `ok` once it delivered the last changes under its prefix, `info` if it did not within
   * DELIVER_WAIT_MS (or a last change was never acknowledged).
   */
  private async finish(record: (call: Invocation) => Promise<Completion>): Promise<void> {
    const last: WatchEvent[] = [];
    const unacknowledged: string[] = [];
    for (const prefix of CHANGE_PREFIXES) {
      let done: Completion | undefined;
      for (let attempt = 0; attempt < LAST_CHANGE_ATTEMPTS && done?.type !== 'ok'; attempt++) {
        const call = this.put(`${prefix}0`);
        done = await record(call);
        if (done.type === 'ok') last.push([done.revision!, call.key, call.value as Scalar]);
      }
      if (done?.type !== 'ok') unacknowledged.push(prefix);
    }
    const due = (w: Watcher): WatchEvent[] => last.filter((e) => e[1].startsWith(w.prefix));
    const delivered = (w: Watcher): boolean => {
      const seen = new Set(w.events.map(slot));
      return due(w).every((e) => seen.has(slot(e)));
    };
    const until = Date.now() + DELIVER_WAIT_MS;
    while ([...this.watchers].some((w) => !delivered(w)) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, DELIVER_POLL_MS));
    for (const w of [...this.watchers]) {
      const missing = unacknowledged.filter((p) => p.startsWith(w.prefix));
      w.ending =
        missing.length > 0
          ? { type: 'info', value: w.events, error: { code: 'NO_LAST_CHANGE', message: `the last change under ${missing.join(' and ')} was never acknowledged` } }
          : delivered(w)
            ? { type: 'ok', value: w.events }
            : { type: 'info', value: w.events, error: { code: 'TIMEOUT', message: `did not deliver the last changes of its prefix within ${DELIVER_WAIT_MS} ms` } };
      w.watch.cancel();
    }
  }
}
