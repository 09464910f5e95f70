/**
 * kvctl's coordination commands, in etcdctl's shape: `lease grant|revoke|keep-alive|timetolive|
 * list`, `lock <name> [-- command]` and `elect <name> [value]`. The long-running ones (keep-alive,
 * lock without a command, elect) run until Ctrl-C (SIGINT) or SIGTERM, then clean up (a held lock
 * is unlocked, a leader resigns) and exit 0; a lease, lock or leadership lost meanwhile ends them
 * with exit status 1 (`LEASE_NOT_FOUND`), and so does a signal while still waiting in line.
 * `lock -- command` exits with the command's status.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { Argument } from 'commander';
import { KeelError } from '@keel/protocol';
import type { KeelClient } from '../client.js';
import type { Lease } from '../lease.js';
import { DEFAULT_LOCK_TTL_SECONDS } from '../recipes/lock.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { parsePositiveInt } from './input.js';
import type { CommandContext } from './program.js';

export function registerCoordinationCommands(program: Command, ctx: CommandContext): void {
  const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
  const lease = program.command('lease').description('grant, renew, inspect and revoke leases (keys attached to a lease go when it ends)');
  lease
    .command('grant')
    .description('grant a lease of <ttl> seconds and print its id (not kept alive: use keep-alive, or put keys with --lease)')
    .addArgument(new Argument('<ttl>', 'seconds').argParser(parsePositiveInt))
    .action(
      ctx.withClient(async (c, _opts, ttl: number) => {
        const l = await c.leaseGrant(ttl, { keepAlive: false });
        if (ctx.json()) ctx.printJson({ id: l.id, ttl: l.ttl });
        else ctx.out(`lease ${l.id} granted with TTL(${l.ttl}s)\n`);
      }),
    );
  lease
    .command('revoke')
    .description('revoke a lease now, deleting its keys (exit 1 if it does not exist)')
    .addArgument(new Argument('<id>', 'lease id').argParser(parsePositiveInt))
    .action(
      ctx.withClient(async (c, _opts, id: number) => {
        const r = await c.leaseRevoke(id);
        if (ctx.json()) ctx.printJson({ id, revision: r.revision, deleted: r.deleted });
        else ctx.out(`lease ${id} revoked (${r.deleted} ${r.deleted === 1 ? 'key' : 'keys'} deleted) revision=${r.revision}\n`);
      }),
    );
  lease
    .command('keep-alive')
    .description('renew a lease every third of its TTL until Ctrl-C (exit 1 once it no longer exists)')
    .addArgument(new Argument('<id>', 'lease id').argParser(parsePositiveInt))
    .option('--once', 'renew once and exit')
    .action(
      ctx.withClient(async (c, _opts, id: number, local: { once?: boolean }) => {
        const stop = untilSignal();
        try {
          for (;;) {
            const r = await c.leaseKeepAliveOnce(id);
            if (ctx.json()) ctx.printJson({ id, ttl: r.ttl });
            else ctx.out(`lease ${id} keepalived with TTL(${r.ttl}s)\n`);
            if (local.once === true || (await stop.within((r.ttl * 1000) / 3))) return;
          }
        } finally {
          stop.dispose();
        }
      }),
    );
  lease
    .command('timetolive')
    .description("a lease's granted and remaining TTL, from the leader (exit 1 if it does not exist)")
    .addArgument(new Argument('<id>', 'lease id').argParser(parsePositiveInt))
    .option('--keys', 'also list the keys attached to it')
    .action(
      ctx.withClient(async (c, _opts, id: number, local: { keys?: boolean }) => {
        const r = await c.leaseTimeToLive(id, { keys: local.keys === true });
        const keys = r.keys?.map(text);
        if (ctx.json()) ctx.printJson({ id, ttl: r.ttl, remaining: r.remaining, ...(keys !== undefined ? { keys } : {}) });
        else ctx.out(`lease ${id} granted with TTL(${r.ttl}s), remaining(${r.remaining}s)${keys !== undefined ? `, attached keys([${keys.join(' ')}])` : ''}\n`);
      }),
    );
  lease
    .command('list')
    .description('list the ids of every lease alive')
    .action(
      ctx.withClient(async (c) => {
        const ids = await c.leaseList();
        if (ctx.json()) ctx.printJson({ leases: ids });
        else ctx.out(`found ${ids.length} ${ids.length === 1 ? 'lease' : 'leases'}\n${ids.map((id) => `${id}\n`).join('')}`);
      }),
    );

  program
    .command('lock')
    .description(
      'acquire a lock and hold it until Ctrl-C, or run a command while holding it (the lock is released when the command exits; the command is stopped if the lock is lost)',
    )
    .argument('<name>')
    .argument('[command...]', 'after --: the command to run while holding the lock; it gets KEEL_LOCK_KEY and KEEL_FENCING_TOKEN')
    .option('--ttl <seconds>', 'TTL of the lock\'s lease: how long the lock outlives a holder that died', parsePositiveInt, DEFAULT_LOCK_TTL_SECONDS)
    .action(
      ctx.withClient(async (c, _opts, name: string, command: string[], local: { ttl: number }) => {
        const stop = untilSignal();
        try {
          const held = await c.lock(name, { ttl: local.ttl, signal: stop.signal }).catch((error: unknown) => interrupted(stop, error, 'the lock', ctx));
          if (held === undefined) return EXIT.NEGATIVE;
          const key = text(held.key);
          if (command.length === 0) {
            if (ctx.json()) ctx.printJson({ key, fencingToken: held.fencingToken });
            else ctx.out(`${key}\nfencing token ${held.fencingToken}\n`);
            return await holdUntilStopped(held.lease, stop, () => held.unlock());
          }
          const status = await runWhileHeld(command, held.lease, { KEEL_LOCK_KEY: key, KEEL_FENCING_TOKEN: String(held.fencingToken) }, ctx);
          await held.unlock();
          return status;
        } finally {
          stop.dispose();
        }
      }),
    );

  program
    .command('elect')
    .description('with a value: campaign with it, print it once elected and lead until Ctrl-C (then resign); without: print each leader as it changes, until Ctrl-C')
    .argument('<name>')
    .argument('[value]')
    .option('--ttl <seconds>', "TTL of the candidate's lease: how long leadership outlives a leader that died", parsePositiveInt, DEFAULT_LOCK_TTL_SECONDS)
    .action(
      ctx.withClient(async (c: KeelClient, _opts, name: string, value: string | undefined, local: { ttl: number }) => {
        const stop = untilSignal();
        try {
          const election = c.election(name);
          if (value === undefined) {
            for await (const leader of election.observe({ signal: stop.signal })) {
              if (ctx.json()) ctx.printJson({ key: text(leader.key), value: leader.text, revision: leader.revision });
              else ctx.out(`${text(leader.key)}\n${leader.text}\n`);
            }
            return EXIT.OK;
          }
          const leadership = await election
            .campaign(value, { ttl: local.ttl, signal: stop.signal })
            .catch((error: unknown) => interrupted(stop, error, 'leadership', ctx));
          if (leadership === undefined) return EXIT.NEGATIVE;
          if (ctx.json()) ctx.printJson({ key: text(leadership.key), value, revision: leadership.revision });
          else ctx.out(`${text(leadership.key)}\n${value}\n`);
          return await holdUntilStopped(leadership.lease, stop, () => leadership.resign());
        } finally {
          stop.dispose();
        }
      }),
    );
}

/** A wait in line that ended by `error`: undefined (after saying so) when a signal ended it, else the error again. */
function interrupted(stop: Stopper, error: unknown, what: string, ctx: CommandContext): undefined {
  if (!stop.signal.aborted || error instanceof KeelError) throw error;
  ctx.err(`kvctl: interrupted while waiting for ${what}\n`);
  return undefined;
}

/** SIGINT and SIGTERM as an abort signal, for one command's run. */
interface Stopper {
  readonly signal: AbortSignal;
  /** Resolves true when stopped within `ms`, false when `ms` passed first. */
  within(ms: number): Promise<boolean>;
  dispose(): void;
}

function untilSignal(): Stopper {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    within: (ms) =>
      new Promise((resolve) => {
        if (controller.signal.aborted) return resolve(true);
        const done = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          controller.signal.removeEventListener('abort', done);
          resolve(false);
        }, ms);
        controller.signal.addEventListener('abort', done, { once: true });
      }),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Hold until a signal (then `release()`, exit 0) or the loss of `lease` (exit 1). */
async function holdUntilStopped(lease: Lease, stop: Stopper, release: () => Promise<void>): Promise<ExitCode> {
  const outcome = await Promise.race([
    lease.lost,
    new Promise<'stopped'>((resolve) => {
      if (stop.signal.aborted) resolve('stopped');
      stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    }),
  ]);
  if (outcome !== 'stopped') throw outcome;
  await release();
  return EXIT.OK;
}

/**
 * Run `command` with the lock held; its exit status becomes kvctl's. If the lease is lost first,
 * the command is sent SIGTERM and the loss is reported (exit 1). A signal to kvctl goes to the
 * command too (the terminal sends Ctrl-C to both); kvctl waits for it to exit.
 */
function runWhileHeld(command: string[], lease: Lease, env: Record<string, string>, ctx: CommandContext): Promise<ExitCode> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...process.env, ...env } });
    let lost: KeelError | undefined;
    void lease.lost.then((error) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      lost = error;
      ctx.err(`kvctl: the lock was lost (${error.message}); stopping the command\n`);
      child.kill('SIGTERM');
    });
    child.once('error', (error) => reject(new KeelError('INVALID_ARGUMENT', `cannot run ${command[0]}: ${error.message}`)));
    child.once('exit', (code) => {
      if (lost !== undefined) reject(lost);
      else resolve((code ?? 1) as ExitCode);
    });
  });
}
