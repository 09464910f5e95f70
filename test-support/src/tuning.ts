/**
 * The one tuning preset for tests: a 25 ms tick, elections after 40–80 ticks (1–2 s of silence,
 * as with the server's defaults) and heartbeats every 4 ticks. On a shared 2-core machine a
 * CPU-starved but healthy leader is then not deposed in the middle of a test. A test that really
 * needs faster elections passes its own flags and says why.
 */
export const TEST_TUNING: readonly string[] = ['--tick-ms', '25', '--election-ticks', '40', '--heartbeat-ticks', '4'];
