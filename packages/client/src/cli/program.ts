/**
 * The kvctl command line (commander). `runCli` parses, runs one command against the cluster and
 * returns the exit status (see exit-codes.ts); it never calls `process.exit`, so tests can run it
 * in-process with their own streams. What each command prints, per output format, is printer.ts.
 */
import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, Option } from 'commander';
import { BackupError, KeelError } from '@keel/protocol';
import { KeelClient } from '../client.js';
import type { AuthOptions, TlsOptions } from '../options.js';
import { registerAuthCommands } from './auth-commands.js';
import { PasswordPrompt, parseUserFlag } from './credentials.js';
import type { CasCondition, DeleteRange } from '../validate.js';
import { completionScript, COMPLETION_SHELLS } from './completion.js';
import type { CompletionShell } from './completion.js';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js';
import type { ExitCode } from './exit-codes.js';
import { errorJson } from './format.js';
import { DEFAULT_ENDPOINTS, parseEndpoints, parseNonNegativeInt, parsePositiveInt, readAll, valueComesFromStdin } from './input.js';
import type { StdinLike } from './input.js';
import { LeaderCache, leaderCachePath } from './leader-cache.js';
import { TXN_PROMPTS, TxnSyntaxError, readTxn } from './txn-input.js';
import { OUTPUT_FORMATS, Printer } from './printer.js';
import type { OutputFormat } from './printer.js';
import { registerCoordinationCommands } from './coordination.js';
import { registerEndpointCommands } from './endpoint.js';
import { registerSnapshotCommands } from './snapshot.js';

/** The streams and environment kvctl runs with. */
export interface CliIo {
  readonly stdout: { write(chunk: string | Uint8Array): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly stdin: StdinLike;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Global options, and the output options some commands add (merged by commander). */
export interface GlobalOptions {
  endpoints?: string[];
  json?: boolean;
  writeOut: OutputFormat;
  hex?: boolean;
  consistency: 'linearizable' | 'serializable';
  timeout: number;
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
  keysOnly?: boolean;
  printValueOnly?: boolean;
}

/** What a command's action gets besides its arguments. */
interface Context {
  readonly client: KeelClient;
  readonly opts: GlobalOptions;
  readonly print: Printer;
}

/** What commands registered from other files (`register…Commands`) get from `runCli`. */
export interface CommandContext {
  /** Wraps a command's body: global options, a client on the endpoints, the exit status it returns. */
  withClient<A extends unknown[]>(
    body: (client: KeelClient, opts: GlobalOptions, ...args: A) => Promise<ExitCode | void>,
  ): (...args: unknown[]) => Promise<void>;
  /** Whether --json was given (known once a command runs). */
  json(): boolean;
  /** The TLS settings of --cacert/--cert/--key, for a client the command opens itself; `undefined` for plaintext. */
  tls(opts: GlobalOptions): TlsOptions | undefined;
  /** The credentials of --user/--password (asked at the terminal when needed), for a client the command opens itself. */
  auth(opts: GlobalOptions): Promise<AuthOptions | undefined>;
  out(text: string | Uint8Array): void;
  /** A line for the person at the terminal (stderr). */
  err(text: string): void;
  printJson(value: unknown): void;
}

/** Thrown by commands for a usage problem found after parsing (exit status 2). */
class UsageError extends Error {}

/** The package's version (package.json sits two levels above this file in src/ and dist/). */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const EXAMPLES = `
Examples:
  $ kvctl put greeting hello                 write a key
  $ kvctl get greeting                       read it (linearizable)
  $ kvctl get greeting --consistency serializable   read from any node, may be stale
  $ echo -n 'from stdin' | kvctl put note    value from stdin (also: kvctl put note -)
  $ kvctl put photo --file photo.jpg         value from a file, byte for byte
  $ kvctl get photo --raw > copy.jpg         exactly the stored bytes, no newline added
  $ kvctl cas greeting hi --expect-value hello      swap only if the value is still "hello"
  $ kvctl cas lock me --expect-absent        create only if absent
  $ kvctl txn < txn.txt                      a transaction in etcdctl's format (interactive on a terminal)
  $ kvctl scan user/ --limit 20              keys starting with "user/"
  $ kvctl scan user/ --count-only            how many keys start with "user/"
  $ kvctl -w fields scan user/               every byte shown unambiguously (also: --hex, -w json)
  $ kvctl del greeting --prev-kv             delete, printing what was deleted
  $ kvctl del user/ --prefix                 delete every key starting with "user/", atomically
  $ kvctl del a m                            delete the keys in [a, m)
  $ kvctl lease grant 30                     a lease of 30 s (prints its id)
  $ kvctl put svc/node-1 10.0.0.1 --lease 42 a key that goes when lease 42 ends
  $ kvctl lease keep-alive 42                keep lease 42 alive until Ctrl-C
  $ kvctl lease timetolive 42 --keys         remaining TTL and attached keys
  $ kvctl lock jobs -- ./run-job.sh          run a command while holding the lock "jobs"
  $ kvctl elect svc node-1                   campaign; lead until Ctrl-C (without a value: watch the leader)
  $ kvctl watch config/ --prefix             print every change under "config/" until Ctrl-C
  $ kvctl watch greeting --rev 1 --prev-kv   replay a key's history, each change with the value it replaced
  $ kvctl compact 1000                       discard the history before revision 1000
  $ kvctl status                             one row per node: role, term, leader, indexes
  $ kvctl member list
  $ kvctl member add-learner 4 127.0.0.1:7104 127.0.0.1:7004
  $ kvctl member promote 4                   once the learner has caught up
  $ kvctl leader transfer 2
  $ kvctl endpoint health                    exit 3 when any endpoint is unhealthy
  $ kvctl snapshot save backup.keel          a consistent backup; restore with keel-server restore
  $ kvctl snapshot status backup.keel        check it: revision, keys, size, checksum
  $ kvctl --user alice get greeting          as user alice (the password is asked; or alice:secret, --password)
  $ kvctl user add root                      then: kvctl auth enable (see "Securing a cluster" in the README)
  $ kvctl role grant app readwrite app/ --prefix    role app may read and write keys under app/
  $ kvctl --json get greeting                machine-readable output (same as -w json)
  $ source <(kvctl completion bash)          tab completion in bash (zsh: kvctl completion zsh)

Endpoints come from --endpoints, else KEEL_ENDPOINTS, else ${DEFAULT_ENDPOINTS}.

${EXIT_CODES_HELP}
`;

/** Runs kvctl with `argv` (without "node kvctl"); resolves with the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status: ExitCode = EXIT.OK;
  let client: KeelClient | undefined;
  let json = false;
  const leaderCache = new LeaderCache(leaderCachePath(io.env));
  /** The endpoints of this run and where they came from, for the hint after an unavailable cluster. */
  let endpointsUsed: string | undefined;
  /** Records the leader this run learned, for the next run (see leader-cache.ts). */
  let rememberLeader = (): void => {};

  const out = (chunk: string | Uint8Array): void => void io.stdout.write(chunk);

  const program = new Command('kvctl')
    .description('Command line for Keel, a strongly consistent, Raft-replicated key-value store.')
    .version(VERSION, '-V, --version', 'print the version of kvctl')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .option('--endpoints <list>', 'comma-separated client addresses of the nodes (host:port)', parseEndpoints)
    .addOption(new Option('-w, --write-out <format>', 'output format').choices(OUTPUT_FORMATS).default('simple'))
    .option('--json', 'print results (and errors) as JSON on stdout (same as -w json)')
    .option('--hex', 'print keys and values as \\xNN per byte (simple, table and fields output)')
    .addOption(
      new Option('--consistency <mode>', 'read mode for get and scan; serializable may be stale')
        .choices(['linearizable', 'serializable'])
        .default('linearizable'),
    )
    .option('--timeout <ms>', 'deadline of the operation, retries included', parsePositiveInt, 5000)
    .option('--cacert <file>', "connect with TLS, trusting the nodes' certificates signed by this PEM CA certificate")
    .option('--cert <file>', 'PEM client certificate, for nodes that require one (with --key; implies TLS)')
    .option('--key <file>', 'PEM private key of --cert')
    .option('--user <name[:password]>', 'authenticate as this user (the password is asked at the terminal when not given)')
    .option('--password <password>', 'the password of --user (instead of name:password or typing it)')
    .addHelpText('after', EXAMPLES);

  /** Runs `body` with a connected client and a printer built from the options. */
  const withClient =
    <A extends unknown[]>(body: (ctx: Context, ...args: A) => Promise<ExitCode | void>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const opts = command.optsWithGlobals<GlobalOptions>();
      const format: OutputFormat = opts.json === true ? 'json' : opts.writeOut;
      json = format === 'json';
      if (json && opts.hex === true) throw new UsageError('--hex applies to simple, table and fields output (json keeps every byte already)');
      if (opts.printValueOnly === true && (format !== 'simple' || opts.keysOnly === true)) {
        throw new UsageError('--print-value-only applies to simple output, without --keys-only');
      }
      const print = new Printer(out, { format, hex: opts.hex === true, keysOnly: opts.keysOnly === true, valueOnly: opts.printValueOnly === true });
      const endpoints = opts.endpoints ?? endpointsFromEnv(io.env['KEEL_ENDPOINTS']);
      endpointsUsed = `${endpoints.join(',')} (from ${
        opts.endpoints !== undefined ? '--endpoints' : io.env['KEEL_ENDPOINTS'] !== undefined ? 'KEEL_ENDPOINTS' : 'the default'
      })`;
      const leaderHint = leaderCache.read(endpoints);
      const tls = tlsOptions(opts);
      const auth = await credentials(opts);
      const c = new KeelClient({
        endpoints,
        timeoutMs: opts.timeout,
        ...(leaderHint !== undefined ? { leaderHint } : {}),
        ...(tls !== undefined ? { tls } : {}),
        ...(auth !== undefined ? { auth } : {}),
      });
      client = c;
      rememberLeader = () => {
        const leader = c.leaderAddress;
        if (leader !== undefined && leader !== leaderHint) leaderCache.write(endpoints, leader);
      };
      status = (await body({ client: c, opts, print }, ...(args.slice(0, -1) as A))) ?? EXIT.OK;
    };

  const prompt = new PasswordPrompt(io.stdin, io.stderr, (what) => new UsageError(`missing ${what}: stdin is not a terminal to type it at (give it as an option)`));
  /** The credentials of --user / --password, asking for the password at the terminal when it is not given (once per run). */
  let asked: Promise<AuthOptions | undefined> | undefined;
  const credentials = (opts: GlobalOptions): Promise<AuthOptions | undefined> => (asked ??= askCredentials(opts));
  const askCredentials = async (opts: GlobalOptions): Promise<AuthOptions | undefined> => {
    if (opts.user === undefined) {
      if (opts.password !== undefined) throw new UsageError('--password needs --user');
      return undefined;
    }
    const { user, password } = parseUserFlag(opts.user, opts.password);
    if (user.length === 0) throw new UsageError('--user needs a user name');
    return { user, password: password ?? (await prompt.ask('Password: ', `the password of ${user}`)) };
  };

  /** The value argument, a file, or stdin when the argument is "-" or absent and stdin is not a terminal. */
  const valueOf = async (arg: string | undefined, file: string | undefined, what: string): Promise<string | Uint8Array> => {
    if (file !== undefined) {
      if (arg !== undefined) throw new UsageError(`give the ${what} as an argument or with --file, not both`);
      return readFileOrUsage(file);
    }
    if (valueComesFromStdin(arg, io.stdin)) return readAll(io.stdin);
    if (arg === undefined) throw new UsageError(`missing ${what}: pass it as an argument, "-" to read stdin, or --file <path>`);
    return arg;
  };

  const keysOnly = (): Option => new Option('--keys-only', 'print keys without values');
  const printValueOnly = (): Option => new Option('--print-value-only', 'print values without keys (simple output)');
  const prevKv = (): Option => new Option('--prev-kv', 'also print the entry the write replaced or deleted');

  program
    .command('get')
    .description('print the value of a key (exit 1 if it does not exist)')
    .argument('<key>')
    .option('--raw', 'write exactly the stored bytes, without a newline (simple output only)')
    .addOption(keysOnly())
    .addOption(printValueOnly())
    .action(
      withClient(async ({ client: c, opts, print }, key: string, local: { raw?: boolean }) => {
        if (local.raw === true && (opts.writeOut !== 'simple' || json || opts.hex === true)) {
          throw new UsageError('--raw writes the bytes as they are: it does not combine with -w, --json or --hex');
        }
        const entry = await c.get(key, { consistency: opts.consistency });
        if (entry === null) {
          if (json) print.json({ found: false, key });
          else io.stderr.write(`kvctl: key not found: ${key}\n`);
          return EXIT.NEGATIVE;
        }
        if (local.raw === true) out(opts.keysOnly === true ? entry.key : entry.value);
        else print.entry(entry);
      }),
    );

  program
    .command('put')
    .description('write a value (from the argument, a file, or stdin when it is "-" or omitted)')
    .argument('<key>')
    .argument('[value]')
    .option('--file <path>', 'read the value from this file, byte for byte')
    .option('--lease <id>', 'attach the key to this lease (deleted when the lease ends; exit 1 if it does not exist)', parsePositiveInt)
    .addOption(prevKv())
    .action(
      withClient(async ({ client: c, print }, key: string, value: string | undefined, local: { file?: string; prevKv?: boolean; lease?: number }) => {
        const options = { prevKv: local.prevKv === true, ...(local.lease !== undefined ? { lease: local.lease } : {}) };
        const r = await c.put(key, await valueOf(value, local.file, 'value'), options);
        print.result(`OK revision=${r.revision}`, [['Revision', r.revision]], r.prevKv);
      }),
    );

  program
    .command('del')
    .alias('delete')
    .description('delete a key, a range [key, range-end) or, with --prefix, every key starting with it (exit 0 whether or not it existed)')
    .argument('<key>')
    .argument('[range-end]', 'delete the keys from <key> up to this one (exclusive), atomically')
    .option('--prefix', 'delete every key that starts with <key>, atomically')
    .option('--from-key', 'delete <key> and every key after it, atomically')
    .addOption(prevKv())
    .action(
      withClient(async ({ client: c, print }, key: string, rangeEnd: string | undefined, local: { prefix?: boolean; fromKey?: boolean; prevKv?: boolean }) => {
        const options = { prevKv: local.prevKv === true };
        const ranges = [rangeEnd !== undefined, local.prefix === true, local.fromKey === true].filter(Boolean).length;
        if (ranges > 1) throw new UsageError('give one of [range-end], --prefix, --from-key');
        if (ranges === 0) {
          const r = await c.delete(key, options);
          print.result(
            `${r.deleted ? 'deleted' : 'not found'} revision=${r.revision}`,
            [
              ['Revision', r.revision],
              ['Deleted', r.deleted],
            ],
            r.prevKv,
          );
          return;
        }
        const range: DeleteRange = local.prefix === true ? { prefix: key } : rangeEnd !== undefined ? { start: key, end: rangeEnd } : { start: key };
        const r = await c.deleteRange(range, options);
        print.result(
          `deleted ${r.deleted} ${r.deleted === 1 ? 'key' : 'keys'} revision=${r.revision}`,
          [
            ['Revision', r.revision],
            ['Deleted', r.deleted],
          ],
          r.prevKvs,
        );
      }),
    );

  program
    .command('watch')
    .description('print every change to a key (or, with --prefix, to every key starting with it) as it happens, until Ctrl-C')
    .argument('<key>')
    .option('--prefix', 'watch every key that starts with <key>')
    .option('--rev <revision>', 'start at this revision (earlier changes are replayed from the history; exit 4 when it was compacted)', parsePositiveInt)
    .addOption(prevKv())
    .addOption(keysOnly())
    .addOption(printValueOnly())
    .action(
      withClient(async ({ client: c, print }, key: string, local: { prefix?: boolean; rev?: number; prevKv?: boolean }) => {
        const w = c.watch(local.prefix === true ? { prefix: key } : key, {
          ...(local.rev !== undefined ? { fromRevision: local.rev } : {}),
          prevKv: local.prevKv === true,
        });
        const stop = (): void => w.cancel();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          for await (const change of w) print.watchChange(change);
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      }),
    );

  program
    .command('compact')
    .description('discard the history before <revision>: it becomes the oldest revision a watch can start from')
    .argument('<revision>', 'at most the current revision', parsePositiveInt)
    .action(
      withClient(async ({ client: c, print }, revision: number) => {
        const r = await c.compact(revision);
        print.result(`compacted revision=${r.compactRevision}`, [
          ['Revision', r.revision],
          ['CompactRevision', r.compactRevision],
        ]);
      }),
    );

  program
    .command('cas')
    .description('compare-and-swap: write the new value only if the condition holds (exit 1 if not)')
    .argument('<key>')
    .argument('[new-value]', 'new value; "-" or omitted reads stdin')
    .option('--expect-value <value>', 'the key must currently hold this value')
    .option('--expect-value-file <path>', 'the key must currently hold exactly the bytes of this file')
    .option('--expect-revision <revision>', 'the key must have been last written at this revision', parseNonNegativeInt)
    .option('--expect-absent', 'the key must not exist')
    .option('--file <path>', 'read the new value from this file, byte for byte')
    .action(
      withClient(async ({ client: c, print }, key: string, newValue: string | undefined, local: Record<string, unknown>) => {
        const condition = casCondition(local);
        const r = await c.cas(key, condition, await valueOf(newValue, local['file'] as string | undefined, 'new value'));
        print.result(`${r.succeeded ? 'swapped' : 'not swapped'} revision=${r.revision}`, [
          ['Succeeded', r.succeeded],
          ['Revision', r.revision],
        ]);
        return r.succeeded ? EXIT.OK : EXIT.NEGATIVE;
      }),
    );

  program
    .command('txn')
    .description("run a transaction read from stdin in etcdctl's format (prompts when stdin is a terminal; exit 1 if the compares failed)")
    .addHelpText(
      'after',
      `
Input: compares, an empty line, success requests, an empty line, failure requests.
  compares:  value("key") = "v"   version("key") > "0"   create("key") < "9"   mod("key") != "4"
             (also val, ver, c, m; ops = != < >; a missing key's value never matches, its numbers are 0)
  requests:  put <key> <value> [--prev-kv]
             get <key> [range-end] [--prefix] [--from-key] [--limit N]
             del <key> [range-end] [--prefix] [--from-key] [--prev-kv]
  Quote words with spaces: put "my key" "a value"; escapes \\" \\\\ \\n \\t \\xNN.

Example:
  $ printf 'value("lock") = "free"\\n\\nput lock mine\\nget config\\n\\nget lock\\n' | kvctl txn
`,
    )
    .action(
      withClient(async ({ client: c, print }) => {
        const interactive = io.stdin.isTTY === true;
        let request;
        try {
          request = await readTxn(io.stdin, (section) => {
            if (interactive) io.stderr.write(`${section > 0 ? '\n' : ''}${TXN_PROMPTS[section]}\n`);
          });
        } catch (error) {
          if (error instanceof TxnSyntaxError) throw new UsageError(error.message);
          throw error;
        }
        const r = await c.txn(request);
        print.txn(r);
        return r.succeeded ? EXIT.OK : EXIT.NEGATIVE;
      }),
    );

  program
    .command('scan')
    .description('list keys and values in a range, in byte order (simple output: one "key<TAB>value" line each)')
    .argument('[prefix]', 'only keys starting with this prefix')
    .option('--start <key>', 'first key (inclusive)')
    .option('--end <key>', 'end key (exclusive)')
    .option('--limit <n>', 'most entries to print (1-10000)', parsePositiveInt, 1000)
    .option('--count-only', 'print only how many keys the range holds (pages through all of them; ignores --limit)')
    .addOption(keysOnly())
    .addOption(printValueOnly())
    .action(
      withClient(
        async ({ client: c, opts, print }, prefix: string | undefined, local: { start?: string; end?: string; limit: number; countOnly?: boolean }) => {
          if (prefix !== undefined && (local.start !== undefined || local.end !== undefined)) {
            throw new UsageError('give a prefix or --start/--end, not both');
          }
          const range = prefix !== undefined ? { prefix } : { start: local.start, end: local.end };
          if (local.countOnly === true) {
            let count = 0;
            for await (const _ of c.scanAll(range, { pageSize: 10_000, consistency: opts.consistency })) count++;
            print.count(count);
            return;
          }
          const r = await c.scan(range, { limit: local.limit, consistency: opts.consistency });
          print.scan(r.entries, r.more, r.revision);
          if (r.more && !json) io.stderr.write(`kvctl: more keys match; raise --limit or continue with --start\n`);
        },
      ),
    );

  program
    .command('status')
    .description('show every node: id, role, term, leader, commit and applied index (exit 3 if none answers)')
    .action(
      withClient(async ({ client: c, print }) => {
        const statuses = await c.status();
        print.status(statuses);
        return statuses.some((s) => s.ok) ? EXIT.OK : EXIT.UNAVAILABLE;
      }),
    );

  const member = program.command('member').description('list or change the cluster membership');
  member
    .command('list')
    .description('list the members (the leader is marked with *)')
    .action(
      withClient(async ({ client: c, print }) => {
        const r = await c.memberList();
        print.members(r.members, r.leader);
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
      withClient(async ({ client: c, print }, id: number, peerAddress: string, clientAddress: string, local: { force?: boolean }) => {
        const m = { id, peerAddress, clientAddress };
        print.members(learner ? await c.memberAddLearner(m) : await c.memberAdd(m, { force: local.force === true }), 0);
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
        withClient(async ({ client: c, print }, id: number) => {
          print.members(name === 'promote' ? await c.memberPromote(id) : await c.memberRemove(id), 0);
        }),
      );
  }

  const leader = program.command('leader').description('leadership commands');
  leader
    .command('transfer')
    .description('hand leadership to another voter')
    .addArgument(new Argument('<id>', 'node id of the new leader').argParser(parsePositiveInt))
    .action(
      withClient(async ({ client: c, print }, id: number) => {
        const r = await c.transferLeader(id);
        print.result(`leader is now ${r.leader}`, [['Leader', r.leader]]);
      }),
    );

  program
    .command('completion')
    .description('print a shell completion script: source <(kvctl completion bash), or the same with zsh')
    .addArgument(new Argument('<shell>').choices(COMPLETION_SHELLS))
    .action((shell: CompletionShell) => {
      out(completionScript(program, shell));
    });

  const context: CommandContext = {
    withClient: <A extends unknown[]>(body: (client: KeelClient, opts: GlobalOptions, ...args: A) => Promise<ExitCode | void>) =>
      withClient<A>(({ client: c, opts }, ...args: A) => body(c, opts, ...args)),
    json: () => json,
    tls: tlsOptions,
    auth: credentials,
    out,
    err: (text) => void io.stderr.write(text),
    printJson: (value) => out(JSON.stringify(value) + '\n'),
  };
  registerEndpointCommands(program, context);
  registerSnapshotCommands(program, context);
  registerCoordinationCommands(program, context);
  registerAuthCommands(program, { ...context, prompt, usage: (message) => new UsageError(message) });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    status = report(error);
  } finally {
    rememberLeader();
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
      if (json) out(JSON.stringify({ error: errorJson(error) }) + '\n');
      else {
        io.stderr.write(`kvctl: ${error.code}: ${error.message}\n`);
        if (code === EXIT.UNAVAILABLE && endpointsUsed !== undefined) io.stderr.write(`kvctl: endpoints: ${endpointsUsed}\n`);
      }
    } else if (error instanceof BackupError) {
      if (json) out(JSON.stringify({ error: { code: error.code, message: error.message } }) + '\n');
      else io.stderr.write(`kvctl: ${error.code}: ${error.message}\n`);
    } else if (error instanceof TypeError) {
      if (json) out(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: error.message, definite: true } }) + '\n');
      else io.stderr.write(`kvctl: ${error.message}\n`);
    } else {
      io.stderr.write(`kvctl: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    return code;
  }
}

/** A file's bytes; a file that cannot be read is a usage error. */
function readFileOrUsage(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The TLS files of --cacert/--cert/--key, read; `undefined` for plaintext. */
function tlsOptions(opts: GlobalOptions): TlsOptions | undefined {
  if (opts.cacert === undefined && opts.cert === undefined && opts.key === undefined) return undefined;
  if ((opts.cert === undefined) !== (opts.key === undefined)) {
    throw new UsageError(`--cert and --key go together: ${opts.cert === undefined ? '--key' : '--cert'} given alone`);
  }
  const read = (flag: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const ca = read('--cacert', opts.cacert);
  const cert = read('--cert', opts.cert);
  const key = read('--key', opts.key);
  return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
}

/** Endpoints from KEEL_ENDPOINTS, or the defaults. */
function endpointsFromEnv(value: string | undefined): string[] {
  try {
    return parseEndpoints(value ?? DEFAULT_ENDPOINTS);
  } catch (error) {
    throw new UsageError(`KEEL_ENDPOINTS: ${(error as Error).message}`);
  }
}

/** The CAS condition from --expect-value(-file) / --expect-revision / --expect-absent (exactly one). */
function casCondition(local: Record<string, unknown>): CasCondition {
  const given: CasCondition[] = [];
  if (local['expectValue'] !== undefined) given.push({ expectValue: String(local['expectValue']) });
  if (local['expectValueFile'] !== undefined) given.push({ expectValue: readFileOrUsage(String(local['expectValueFile'])) });
  if (local['expectRevision'] !== undefined) given.push({ expectRevision: local['expectRevision'] as number });
  if (local['expectAbsent'] === true) given.push({ expectAbsent: true });
  if (given.length !== 1 || given[0] === undefined) {
    throw new UsageError('cas needs exactly one of --expect-value, --expect-value-file, --expect-revision, --expect-absent');
  }
  return given[0];
}
