import { describe, expect, it } from 'vitest';
import { parseSimArgs, simUsage } from '../src/testing/index.js';

const EXTRA = { '--ack-before-persist': 'inject the driver bug' };

describe('the simulator sweeps\' command line', () => {
  it('defaults to 100 seeds from 1 on 3 nodes, and to one seed when --seed is given', () => {
    expect(parseSimArgs([])).toEqual({ args: { seeds: 100, firstSeed: 1, nodes: 3, ticks: 300, regime: undefined, trace: undefined, flags: new Set() } });
    expect(parseSimArgs(['--seed', '42'])).toMatchObject({ args: { seeds: 1, firstSeed: 42 } });
    expect(parseSimArgs(['--seed=42', '--seeds=5', '--nodes=5', '--regime', 'snapshotLag', '--trace', '200'])).toMatchObject({
      args: { seeds: 5, firstSeed: 42, nodes: 5, regime: 'snapshotLag', trace: 200 },
    });
  });

  it('takes only the CLI\'s own extra flags, as booleans', () => {
    const outcome = parseSimArgs(['--ack-before-persist'], EXTRA);
    expect('args' in outcome && outcome.args.flags.has('--ack-before-persist')).toBe(true);
    expect(parseSimArgs(['--ack-before-persist'])).toEqual({ error: 'unknown argument --ack-before-persist' });
    expect(parseSimArgs(['--ack-before-persist=yes'], EXTRA)).toEqual({ error: 'unknown argument --ack-before-persist=yes' });
    expect(simUsage('pnpm sim:raft', EXTRA)).toContain('--ack-before-persist  inject the driver bug');
  });

  it('says what is wrong with bad arguments, and answers --help', () => {
    expect(parseSimArgs(['--nodes', '4'])).toEqual({ error: '--nodes must be 3 or 5' });
    expect(parseSimArgs(['--seeds', '0'])).toEqual({ error: '--seeds needs an integer in [1, 10000000], got 0' });
    expect(parseSimArgs(['--seed'])).toEqual({ error: '--seed needs an integer in [0, 4294967295], got nothing' });
    expect(parseSimArgs(['--regime', 'nope'])).toEqual({ error: 'unknown regime nope' });
    expect(parseSimArgs(['-h'])).toEqual({ help: true });
  });
});
