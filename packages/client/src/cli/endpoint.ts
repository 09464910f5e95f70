/**
 * `kvctl endpoint health` and `kvctl endpoint status`, in etcdctl's shape: one row per endpoint
 * (a table, or `--json`), exit status 3 when any endpoint is unhealthy or does not answer, so a
 * script or a probe can act on the exit status alone.
 *
 * An endpoint is healthy when it answers its status AND serves a linearizable read itself within
 * `--timeout` (as etcdctl's health check reads a key): the node runs, knows a leader that still
 * holds a majority, and has applied up to the commit index. A follower cut off from the majority
 * answers its status but not the read: unhealthy, with the reason.
 */
import type { Command } from 'commander';
import { KeelError } from '@keel/protocol';
import { KeelClient } from '../client.js';
import type { AuthOptions, TlsOptions } from '../options.js';
import type { EndpointStatus } from '../results.js';
import { EXIT } from './exit-codes.js';
import { errorJson, formatStatusTable, formatTable, statusJson } from './format.js';
import type { CommandContext } from './program.js';

/** The key the health check reads (as etcdctl's); its value is never printed. */
export const HEALTH_KEY = 'health';

interface Health {
  readonly endpoint: string;
  readonly health: boolean;
  /** How long the check took, in milliseconds. */
  readonly tookMs: number;
  readonly error?: KeelError;
}

export function registerEndpointCommands(program: Command, ctx: CommandContext): void {
  const endpoint = program.command('endpoint').description('check each endpoint on its own (exit 3 when any is unhealthy)');
  endpoint
    .command('health')
    .description('whether each endpoint serves a linearizable read: it runs, knows a leader with a majority, and is caught up')
    .action(
      ctx.withClient(async (c, opts) => {
        const tls = ctx.tls(opts);
        const auth = await ctx.auth(opts);
        const results = await Promise.all(c.endpoints.map((e) => checkHealth(e, opts.timeout, tls, auth)));
        if (ctx.json()) ctx.printJson(results.map(({ error, ...r }) => ({ ...r, ...(error !== undefined ? { error: errorJson(error) } : {}) })));
        else {
          ctx.out(formatTable(['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'], results.map((r) => [r.endpoint, String(r.health), `${r.tookMs}ms`, r.error !== undefined ? `${r.error.code}: ${r.error.message}` : ''])));
          const unhealthy = results.filter((r) => !r.health).length;
          if (unhealthy > 0) ctx.err(`kvctl: ${unhealthy} of ${results.length} endpoints unhealthy\n`);
        }
        return results.every((r) => r.health) ? EXIT.OK : EXIT.UNAVAILABLE;
      }),
    );
  endpoint
    .command('status')
    .description("each endpoint's id, role, term, leader, commit and applied index, as `status` (exit 3 if any does not answer)")
    .action(
      ctx.withClient(async (c) => {
        const statuses: EndpointStatus[] = await c.status();
        if (ctx.json()) ctx.printJson(statuses.map(statusJson));
        else ctx.out(formatStatusTable(statuses));
        return statuses.every((s) => s.ok) ? EXIT.OK : EXIT.UNAVAILABLE;
      }),
    );
}

/** Checks `endpoint` alone: a client that knows no other node asks it for its status, then reads through it. */
async function checkHealth(endpoint: string, timeoutMs: number, tls: TlsOptions | undefined, auth: AuthOptions | undefined): Promise<Health> {
  const started = performance.now();
  const client = new KeelClient({ endpoints: [endpoint], timeoutMs, ...(tls !== undefined ? { tls } : {}), ...(auth !== undefined ? { auth } : {}) });
  const took = (): number => Math.round(performance.now() - started);
  try {
    const [status] = await client.status();
    if (status !== undefined && !status.ok) return { endpoint, health: false, tookMs: took(), error: status.error };
    await client.get(HEALTH_KEY, { consistency: 'linearizable' });
    return { endpoint, health: true, tookMs: took() };
  } catch (error) {
    if (!(error instanceof KeelError)) throw error;
    return { endpoint, health: false, tookMs: took(), error };
  } finally {
    await client.close();
  }
}
