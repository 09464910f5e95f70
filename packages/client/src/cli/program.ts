/**
 * The kvctl command line (commander). `runCli` parses, runs one command against the cluster and
 * returns the exit status (see exit-codes.ts); it never calls `process.exit`, so tests can run it
 * in-process with their own streams.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import { BackupError, KeelError } from '@keel/protocol';
import { KeelClient } from '../client.js';
import type { CasCondition } from '../validate.js';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js';
import type { ExitCode } from './exit-codes.js';
import {
  entryJson,
  errorJson,
  formatMemberTable,
  formatStatusTable,
  scanLine,
  statusJson,
} from './format.js';
import {
  DEFAULT_ENDPOINTS,
  parseEndpoints,
  parseNonNegativeInt,
  parsePositiveInt,
  readAll,
  valueComesFromStdin,
} from './input.js';
import type { StdinLike } from './input.js';
import { registerEndpointCommands } from './endpoint.js';
import { registerSnapshotCommands } from './snapshot.js';

/** The streams and environment kvctl runs with. */
export interface CliIo {
  readonly stdout: { write(chunk: string | Uint8Array): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly stdin: StdinLike;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface GlobalOptions {
  endpoints?: string[];
  json?: boolean;
  consistency: 'linearizable' | 'serializable';
  timeout: number;
}

/** What commands registered from other files (`register…Commands`) get from `runCli`. */
export interface CommandContext {
  /** Wraps a command's body: global options, a client on the endpoints, the exit status it returns. */
  withClient<A extends unknown[]>(
    body: (client: KeelClient, opts: GlobalOptions, ...args: A) => Promise<ExitCode | void>,
  ): (...args: unknown[]) => Promise<void>;
  /** Whether --json was given (known once a command runs). */
  json(): boolean;
  out(text: string | Uint8Array): void;
  /** A line for the person at the terminal (stderr). */
  err(text: string): void;
  printJson(value: unknown): void;
}

/** Thrown by commands for a usage problem found after parsing (exit status 2). */
class UsageError extends Error {}

const EXAMPLES = `
Examples:
  $ kvctl put greeting hello                 write a key
  $ kvctl get greeting                       read it (linearizable)
  $ kvctl get greeting --consistency serializable   read from any node, may be stale
  $ echo -n 'from stdin' | kvctl put note    value from stdin (also: kvctl put note -)
  $ kvctl cas greeting hi --expect-value hello      swap only if the value is still "hello"
  $ kvctl cas lock me --expect-absent        create only if absent
  $ kvctl scan user/ --limit 20              keys starting with "user/"
  $ kvctl del greeting
  $ kvctl status                             one row per node: role, term, leader, indexes
  $ kvctl member list
  $ kvctl member add 4 127.0.0.1:7104 127.0.0.1:7004
  $ kvctl leader transfer 2
  $ kvctl endpoint health                    exit 3 when any endpoint is unhealthy
  $ kvctl snapshot save backup.keel          a consistent backup; restore with keel-server restore
  $ kvctl snapshot status backup.keel        check it: revision, keys, size, checksum
  $ kvctl --json get greeting                machine-readable output

Endpoints come from --endpoints, else KEEL_ENDPOINTS, else ${DEFAULT_ENDPOINTS}.

${EXIT_CODES_HELP}
`;

/** Runs kvctl with `argv` (without "node kvctl"); resolves with the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status: ExitCode = EXIT.OK;
  let client: KeelClient | undefined;
  let json = false;

  const out = (text: string | Uint8Array): void => void io.stdout.write(text);
  const printJson = (value: unknown): void => out(JSON.stringify(value) + '\n');

  const program = new Command('kvctl')
    .description('Command line for Keel, a strongly consistent, Raft-replicated key-value store.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .option('--endpoints <list>', 'comma-separated client addresses of the nodes (host:port)', parseEndpoints)
    .option('--json', 'print results (and errors) as JSON on stdout')
    .addOption(
      new Option('--consistency <mode>', 'read mode for get and scan; serializable may be stale')
        .choices(['linearizable', 'serializable'])
        .default('linearizable'),
    )
    .option('--timeout <ms>', 'deadline of the operation, retries included', parsePositiveInt, 5000)
    .addHelpText('after', EXAMPLES);

  /** Runs `body` with a connected client built from the global options. */
  const withClient =
    <A extends unknown[]>(body: (client: KeelClient, opts: GlobalOptions, ...args: A) => Promise<ExitCode | void>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const opts = command.optsWithGlobals<GlobalOptions>();
      json = opts.json === true;
      const endpoints = opts.endpoints ?? endpointsFromEnv(io.env['KEEL_ENDPOINTS']);
      client = new KeelClient({ endpoints, timeoutMs: opts.timeout });
      status = (await body(client, opts, ...(args.slice(0, -1) as A))) ?? EXIT.OK;
    };

  /** The value argument, or stdin when it is "-" or absent and stdin is not a terminal. */
  const valueOf = async (arg: string | undefined, what: string): Promise<string | Uint8Array> => {
    if (valueComesFromStdin(arg, io.stdin)) return readAll(io.stdin);
    if (arg === undefined) throw new UsageError(`missing ${what}: pass it as an argument, or "-" to read stdin`);
    return arg;
  };

  program
    .command('get')
    .description('print the value of a key (exit 1 if it does not exist)')
    .argument('<key>')
    .action(
      withClient(async (c, opts, key: string) => {
        const entry = await c.get(key, { consistency: opts.consistency });
        if (entry === null) {
          if (json) printJson({ found: false, key });
          else io.stderr.write(`kvctl: key not found: ${key}\n`);
          return EXIT.NEGATIVE;
        }
        if (json) printJson({ found: true, ...entryJson(entry) });
        else {
          out(entry.value);
          out('\n');
        }
      }),
    );

  program
    .command('put')
    .description('write a value (from the argument, or stdin when it is "-" or omitted)')
    .argument('<key>')
    .argument('[value]')
    .action(
      withClient(async (c, _opts, key: string, value: string | undefined) => {
        const r = await c.put(key, await valueOf(value, 'value'));
        if (json) printJson(r);
        else out(`OK revision=${r.revision}\n`);
      }),
    );

  program
    .command('del')
    .alias('delete')
    .description('delete a key (exit 0 whether or not it existed)')
    .argument('<key>')
    .action(
      withClient(async (c, _opts, key: string) => {
        const r = await c.delete(key);
        if (json) printJson(r);
        else out(`${r.deleted ? 'deleted' : 'not found'} revision=${r.revision}\n`);
      }),
    );

  program
    .command('cas')
    .description('compare-and-swap: write the new value only if the condition holds (exit 1 if not)')
    .argument('<key>')
    .argument('[new-value]', 'new value; "-" or omitted reads stdin')
    .option('--expect-value <value>', 'the key must currently hold this value')
    .option('--expect-revision <revision>', 'the key must have been last written at this revision', parseNonNegativeInt)
    .option('--expect-absent', 'the key must not exist')
    .action(
      withClient(async (c, _opts, key: string, newValue: string | undefined, local: Record<string, unknown>) => {
        const condition = casCondition(local);
        const r = await c.cas(key, condition, await valueOf(newValue, 'new value'));
        if (json) printJson(r);
        else out(`${r.succeeded ? 'swapped' : 'not swapped'} revision=${r.revision}\n`);
        return r.succeeded ? EXIT.OK : EXIT.NEGATIVE;
      }),
    );

  program
    .command('scan')
    .description('list keys and values in a range, in byte order (one "key<TAB>value" line each)')
    .argument('[prefix]', 'only keys starting with this prefix')
    .option('--start <key>', 'first key (inclusive)')
    .option('--end <key>', 'end key (exclusive)')
    .option('--limit <n>', 'most entries to print (1-10000)', parsePositiveInt, 1000)
    .action(
      withClient(async (c, opts, prefix: string | undefined, local: { start?: string; end?: string; limit: number }) => {
        if (prefix !== undefined && (local.start !== undefined || local.end !== undefined)) {
          throw new UsageError('give a prefix or --start/--end, not both');
        }
        const range = prefix !== undefined ? { prefix } : { start: local.start, end: local.end };
        const r = await c.scan(range, { limit: local.limit, consistency: opts.consistency });
        if (json) printJson({ entries: r.entries.map(entryJson), more: r.more, revision: r.revision });
        else {
          for (const e of r.entries) out(scanLine(e));
          if (r.more) io.stderr.write(`kvctl: more keys match; raise --limit or continue with --start\n`);
        }
      }),
    );

  program
    .command('status')
    .description('show every node: id, role, term, leader, commit and applied index (exit 3 if none answers)')
    .action(
      withClient(async (c) => {
        const statuses = await c.status();
        if (json) printJson(statuses.map(statusJson));
        else out(formatStatusTable(statuses));
        return statuses.some((s) => s.ok) ? EXIT.OK : EXIT.UNAVAILABLE;
      }),
    );

  const member = program.command('member').description('list or change the cluster membership');
  member
    .command('list')
    .description('list the members (the leader is marked with *)')
    .action(
      withClient(async (c) => {
        const r = await c.memberList();
        if (json) printJson(r);
        else out(formatMemberTable(r.members, r.leader));
      }),
    );
  for (const [name, learner] of [
    ['add', false],
    ['add-learner', true],
  ] as const) {
    const command = member
      .command(name)
      .description(learner ? 'add a non-voting learner (promote it once caught up)' : 'add a voting member (needs --force)')
      .addArgument(new Argument('<id>', 'new node id').argParser(parsePositiveInt))
      .argument('<peer-address>', 'host:port the other nodes dial')
      .argument('<client-address>', 'host:port clients dial');
    if (!learner) {
      command.option('--force', 'add the voter at once (refused without it: add a learner, then promote it once caught up)');
    }
    command.action(
        withClient(async (c, opts, id: number, peerAddress: string, clientAddress: string) => {
          const m = { id, peerAddress, clientAddress };
          const members = learner ? await c.memberAddLearner(m) : await c.memberAdd(m, { force: (opts as { force?: boolean }).force === true });
          if (json) printJson({ members });
          else out(formatMemberTable(members, 0));
        }),
      );
  }
  for (const [name, what] of [
    ['promote', 'turn a learner into a voter'],
    ['remove', 'remove a member'],
  ] as const) {
    member
      .command(name)
      .description(what)
      .addArgument(new Argument('<id>', 'node id').argParser(parsePositiveInt))
      .action(
        withClient(async (c, _opts, id: number) => {
          const members = name === 'promote' ? await c.memberPromote(id) : await c.memberRemove(id);
          if (json) printJson({ members });
          else out(formatMemberTable(members, 0));
        }),
      );
  }

  const leader = program.command('leader').description('leadership commands');
  leader
    .command('transfer')
    .description('hand leadership to another voter')
    .addArgument(new Argument('<id>', 'node id of the new leader').argParser(parsePositiveInt))
    .action(
      withClient(async (c, _opts, id: number) => {
        const r = await c.transferLeader(id);
        if (json) printJson(r);
        else out(`leader is now ${r.leader}\n`);
      }),
    );

  const context: CommandContext = { withClient, json: () => json, out, err: (text) => void io.stderr.write(text), printJson };
  registerEndpointCommands(program, context);
  registerSnapshotCommands(program, context);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    status = report(error);
  } finally {
    await client?.close();
  }
  return status;

  function report(error: unknown): ExitCode {
    if (error instanceof CommanderError) {
      // Help and version end with exitCode 0; every parse problem is a usage error.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`kvctl: ${error.message}\n`);
      return EXIT.USAGE;
    }
    const code = exitCodeFor(error);
    if (error instanceof KeelError) {
      if (json) printJson({ error: errorJson(error) });
      else io.stderr.write(`kvctl: ${error.code}: ${error.message}\n`);
    } else if (error instanceof BackupError) {
      if (json) printJson({ error: { code: error.code, message: error.message } });
      else io.stderr.write(`kvctl: ${error.code}: ${error.message}\n`);
    } else if (error instanceof TypeError) {
      if (json) printJson({ error: { code: 'INVALID_ARGUMENT', message: error.message, definite: true } });
      else io.stderr.write(`kvctl: ${error.message}\n`);
    } else {
      io.stderr.write(`kvctl: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    return code;
  }
}

/** Endpoints from KEEL_ENDPOINTS, or the defaults. */
function endpointsFromEnv(value: string | undefined): string[] {
  try {
    return parseEndpoints(value ?? DEFAULT_ENDPOINTS);
  } catch (error) {
    throw new UsageError(`KEEL_ENDPOINTS: ${(error as Error).message}`);
  }
}

/** The CAS condition from --expect-value / --expect-revision / --expect-absent (exactly one). */
function casCondition(local: Record<string, unknown>): CasCondition {
  const given: CasCondition[] = [];
  if (local['expectValue'] !== undefined) given.push({ expectValue: String(local['expectValue']) });
  if (local['expectRevision'] !== undefined) given.push({ expectRevision: local['expectRevision'] as number });
  if (local['expectAbsent'] === true) given.push({ expectAbsent: true });
  if (given.length !== 1 || given[0] === undefined) {
    throw new UsageError('cas needs exactly one of --expect-value, --expect-revision, --expect-absent');
  }
  return given[0];
}
