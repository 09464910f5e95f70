/**
 * `pnpm jepsen`: one Jepsen-style run of a real Keel cluster from the command line (see USAGE).
 *
 * Prints progress while it runs, then the verdict per checker and the report's path. Exit status:
 * 0 valid, 1 invalid, 2 unknown or the run itself broke (also a bad command line, or `--net netns`
 * where the netns network cannot run: the harness's reason is printed). Ctrl-C stops
 * the run: every node is killed by PID and what was recorded is written; a second Ctrl-C exits at
 * once (the harness's exit hook still kills the nodes).
 */
import { USAGE, UsageError, parseCommandLine } from './options.js';
import { NetworkUnavailableError } from '../runner/network.js';
import { runJepsen } from '../runner/run.js';

async function main(): Promise<number> {
  let options;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`jepsen: ${error.message}\n`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stdout.write('\ninterrupted: stopping every node (Ctrl-C again to exit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let outcome;
  try {
    outcome = await runJepsen(options, { out: (line) => process.stdout.write(`${line}\n`), signal: abort.signal });
  } catch (error) {
    if (!(error instanceof NetworkUnavailableError)) throw error;
    process.stderr.write(`jepsen: ${error.message}\n`);
    return 2;
  }
  for (const line of outcome.summary) process.stdout.write(`${line}\n`);
  return outcome.exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`jepsen: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
