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
});
