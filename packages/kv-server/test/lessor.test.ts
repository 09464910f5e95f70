/**
 * The leader's lease clock (node/lessor.ts) over a real lease table: leases run out a TTL after
 * they are first seen or last renewed, never while the node follows, are proposed for expiry
 * once until settled, and a new leader gives every lease its full TTL again.
 */
import { describe, expect, it } from 'vitest';
import { Lessor } from '../src/node/lessor.js';
import { LeaseTable } from '../src/state-machine/leases.js';

const TICK_MS = 50;

function setup(): { table: LeaseTable; lessor: Lessor } {
  const table = new LeaseTable();
  table.grant(7, 2); // 2 s = 40 ticks
  table.grant(9, 10); // 200 ticks
  table.commit();
  return { table, lessor: new Lessor(TICK_MS, () => table) };
}

describe('Lessor', () => {
  it('expires nothing while following, and a lease a TTL after the leader first saw it', () => {
    const { lessor } = setup();
    expect(lessor.due(1_000)).toEqual([]); // a follower keeps no clock
    lessor.becameLeader(100);
    expect(lessor.due(139)).toEqual([]);
    expect(lessor.due(140)).toEqual([7]);
    expect(lessor.due(141)).toEqual([]); // proposed once until settled
    lessor.settled(7); // the proposal failed: proposed again while still due
    expect(lessor.due(142)).toEqual([7]);
    expect(lessor.keepAlive(7, 142)).toBeUndefined(); // being expired: no renewal
    expect(lessor.due(300)).toEqual([9]);
  });

  it('renews to the full TTL on keep-alive and reports the remaining seconds, rounded up', () => {
    const { lessor } = setup();
    lessor.becameLeader(0);
    expect(lessor.remainingSeconds(7, 0)).toBe(2);
    expect(lessor.remainingSeconds(7, 21)).toBe(1);
    expect(lessor.keepAlive(7, 30)).toBe(2);
    expect(lessor.due(69)).toEqual([]);
    expect(lessor.due(70)).toEqual([7]);
    expect(lessor.keepAlive(404, 70)).toBeUndefined();
    expect(lessor.remainingSeconds(404, 70)).toBeUndefined();
  });

  it('gives every lease its full TTL again after a change of leader, and starts the clock of a lease granted since', () => {
    const { table, lessor } = setup();
    lessor.becameLeader(0);
    expect(lessor.due(39)).toEqual([]);
    lessor.steppedDown();
    lessor.becameLeader(39); // leadership came back: the clocks start over
    expect(lessor.due(78)).toEqual([]);
    expect(lessor.due(79)).toEqual([7]);
    table.grant(12, 2);
    table.commit();
    expect(lessor.remainingSeconds(12, 80)).toBe(2); // not seen by a sweep yet: the full TTL
    expect(lessor.due(80)).toEqual([]); // first seen now
    expect(lessor.due(120)).toEqual([12]);
  });
});
