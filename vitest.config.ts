import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// In-process tests run the TypeScript sources directly; child processes (servers, kvctl)
// run the built `dist/` that `pnpm test` compiles first with `tsc -b`.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@keel\/raft\/testing$/, replacement: `${root}packages/raft/src/testing/index.ts` },
      { find: /^@keel\/kv-server\/testing$/, replacement: `${root}packages/kv-server/src/testing/index.ts` },
      { find: /^@keel\/(raft|protocol|kv-server|client)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@keel\/test-support$/, replacement: `${root}test-support/src/index.ts` },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test-support/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'jepsen-style-tests/test/**/*.test.ts'],
    // A backstop for a hang, not a speed limit: every wait in the tests is on a condition with
    // progress (`waitForProgress`: it fails when nothing moves for its stall period), so a loaded
    // machine makes a test slower, never wrong; only a test that stops moving should reach this.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Most test files wait on real processes (elections, fsyncs, faults), not on the CPU: two
    // files at a time even on a 2-core machine, where vitest's default (cores - 1) runs one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
