/**
 * @keel/jepsen-style-tests/testing — simulated histories for tests, benchmarks and sample reports.
 */
export { simulateRegisterHistory, simulateSetHistory } from './simulate.js';
export type { RegisterSimulationOptions, SetSimulationOptions, SimulationOptions } from './simulate.js';
export { Rng } from '../rng.js';
