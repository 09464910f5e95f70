/**
 * Issue 9 item 11: a node printed `node.stats` at INFO every 10 s under load, drowning the lines
 * an operator needs. It is a debugging aid: DEBUG.
 */
import { describe, expect, it } from 'vitest';
import type { Ready } from '@keel/raft';
import { ReadyStats } from '../src/node/ready-stats.js';
import { recordingLogger } from './transport-test-helpers.js';

describe('ReadyStats', () => {
  it('logs node.stats at debug level, once per interval with traffic', () => {
    const logger = recordingLogger('stats');
    const stats = new ReadyStats(logger, 1_000);
    const entry = { type: 'normal', index: 1, term: 1, data: new Uint8Array(1) } as const;
    const ready: Ready = { entries: [entry], committedEntries: [entry], messages: [], messagesAfterPersist: [], readStates: [], rejectedReads: [], mustSync: true };
    stats.ready(ready);
    stats.tick(500, { proposals: 0, reads: 0 });
    expect(logger.records).toEqual([]);
    stats.tick(500, { proposals: 0, reads: 0 });
    expect(logger.records.map((r) => [r.level, r.event])).toEqual([['debug', 'node.stats']]);
    stats.tick(1_000, { proposals: 0, reads: 0 }); // an interval without traffic prints nothing
    expect(logger.records).toHaveLength(1);
  });

  it('counts entries per persisted batch and per append message in power-of-two buckets', () => {
    const logger = recordingLogger('stats');
    const stats = new ReadyStats(logger, 1_000);
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'normal', index: i + 1, term: 1, data: new Uint8Array(1) }) as const);
    const append = (n: number) => ({ type: 'app', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries: entries(n), commit: 0 }) as const;
    const ready = (n: number, appends: number[]): Ready => ({
      entries: entries(n),
      committedEntries: [],
      messages: appends.map(append),
      messagesAfterPersist: [],
      readStates: [],
      rejectedReads: [],
      mustSync: n > 0,
    });
    stats.ready(ready(1, [1, 1]));
    stats.ready(ready(5, [5, 0])); // a heartbeat-like empty append is not a batch
    stats.ready(ready(7, [7, 3]));
    stats.ready(ready(0, []));
    stats.ready(ready(100, [100, 100]));
    stats.tick(1_000, { proposals: 0, reads: 0 });
    expect(logger.records).toHaveLength(1);
    expect(logger.records[0]!.fields).toMatchObject({
      entriesPerPersist: { '1': 1, '4-7': 2, '64-127': 1 },
      entriesPerAppend: { '1': 2, '2-3': 1, '4-7': 2, '64-127': 2 },
    });
  });
});
