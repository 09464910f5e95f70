/**
 * Simulated time. The simulator's clock counts time units; a Raft tick is `UNITS_PER_TICK`
 * units, so network and disk latencies can be a fraction of a tick. Nothing reads a wall clock.
 */
export const UNITS_PER_TICK = 10;

export function ticksToUnits(ticks: number): number {
  return ticks * UNITS_PER_TICK;
}
