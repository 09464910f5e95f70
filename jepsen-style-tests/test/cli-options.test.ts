import { describe, expect, it } from 'vitest';
import { UsageError, parseCommandLine } from '../src/cli/options.js';

const required = ['--workload', 'register', '--nemesis', 'isolate-leader', '--time', '30'];

describe('pnpm jepsen command line', () => {
  it('takes the documented flags with their defaults', () => {
    expect(parseCommandLine([...required, '--seed', '1'])).toEqual({
      workload: 'register',
      nemesis: 'isolate-leader',
      timeSeconds: 30,
      seed: 1,
      nodes: 3,
      clients: 10,
      readMode: 'linearizable',
      net: 'proxy',
    });
    const full = parseCommandLine([...required, '--seed', '9', '--nodes', '5', '--clients', '20', '--read-mode', 'serializable', '--net', 'netns', '--partition-mode', 'reset']);
    expect(full).toMatchObject({ nodes: 5, clients: 20, readMode: 'serializable', net: 'netns', partitionMode: 'reset' });
    expect(parseCommandLine(required, () => 1234)?.seed).toBe(1234);
    expect(parseCommandLine(['--nemesis', 'mixed', '--time', '600'], () => 7)).toMatchObject({ workload: 'register', nemesis: 'mixed', seed: 7 });
    expect(parseCommandLine(['--workload', 'bank', '--nemesis', 'mixed', '--time', '150', '--seed', '3'])).toMatchObject({ workload: 'bank', nemesis: 'mixed', timeSeconds: 150, seed: 3 });
    expect(parseCommandLine(['--help'])).toBeUndefined();
  });

  it('refuses a bad command line with a message naming the flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--workload', 'set', '--time', '5'], /--nemesis is required/],
      [[...required, '--nemesis', 'chaos'], /--nemesis must be one of .*mixed/],
      [['--workload', 'queue', '--nemesis', 'ring', '--time', '5'], /--workload must be one of register, set, bank/],
      [[...required, '--nodes', '2'], /--nodes must be an integer in 3\.\.9/],
      [[...required, '--time', '0'], /--time must be an integer/],
      [[...required, '--read-mode', 'stale'], /--read-mode/],
      [[...required, '--partition-mode', 'drop'], /--partition-mode must be one of blackhole, reset/],
      [[...required, '--bogus'], /Unknown option/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseCommandLine(argv)).toThrow(UsageError);
      expect(() => parseCommandLine(argv)).toThrow(message);
    }
  });
});
