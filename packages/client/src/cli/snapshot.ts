/**
 * `kvctl snapshot save <file>` and `kvctl snapshot status <file>`: backups, as etcdctl's.
 *
 * `save` downloads a backup from a node's admin listener (`GET /snapshot`; the node's status
 * names it, or `--from` does), checking the backup format as the bytes arrive, into `<file>.part`,
 * fsyncs it and renames it to `<file>` once its checksum checked out: a file at `<file>` is always a
 * whole backup. The node takes the snapshot behind a linearizable read barrier, so the backup
 * holds every write acknowledged before the command started.
 *
 * `status` reads a backup, checks all of it, and prints its revision, key count, size and checksum.
 */
import { createReadStream } from 'node:fs';
import { access, open, rename, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { BackupError, ERROR_CODES, KeelError, checkBackup, readBackup, type BackupSummary, type ErrorCode } from '@keel/protocol';
import type { KeelClient } from '../client.js';
import { formatTable } from './format.js';
import type { CommandContext } from './program.js';

export function registerSnapshotCommands(program: Command, ctx: CommandContext): void {
  const snapshot = program.command('snapshot').description('take a backup of the cluster (save), or check one (status)');
  snapshot
    .command('save')
    .description('save a backup: a consistent snapshot holding every write acknowledged before it started')
    .argument('<file>', 'where to write it (written as <file>.part, renamed when complete)')
    .option('--from <host:port>', "a node's admin listener to take it from (default: the first endpoint whose status names one)")
    .action(
      ctx.withClient(async (c, opts, file: string, local: { from?: string }) => {
        const from = local.from ?? (await adminAddressOf(c));
        const summary = await download(from, file, opts.timeout);
        if (ctx.json()) ctx.printJson({ file, from, ...summary });
        else ctx.out(`Snapshot saved at ${file}: revision ${summary.revision}, ${summary.keys} keys, ${summary.bytes} bytes, sha256 ${summary.sha256} (from ${from})\n`);
      }),
    );
  snapshot
    .command('status')
    .description('check a backup file and print its revision, key count, size and checksum')
    .argument('<file>')
    .action(
      ctx.withClient(async (_c, _opts, file: string) => {
        await readable(file);
        const s = await checkBackup(createReadStream(file));
        if (ctx.json()) ctx.printJson(s);
        else ctx.out(formatTable(['REVISION', 'KEYS', 'SIZE', 'SHA256', 'TAKEN', 'FROM'], [[String(s.revision), String(s.keys), formatBytes(s.bytes), s.sha256, s.createdAt, `cluster ${s.clusterId}, node ${s.nodeId}`]]));
      }),
    );
}

/** The admin address of the first endpoint (in order) whose status names one. */
async function adminAddressOf(c: KeelClient): Promise<string> {
  const statuses = await c.status();
  for (const s of statuses) if (s.ok && s.status.adminAddress !== undefined && s.status.adminAddress !== '') return s.status.adminAddress;
  const reachable = statuses.filter((s) => s.ok);
  if (reachable.length === 0) {
    const first = statuses.find((s) => !s.ok);
    throw new KeelError('UNAVAILABLE', `no endpoint answered (${first !== undefined && !first.ok ? first.error.message : 'no endpoints'})`);
  }
  throw new KeelError('INVALID_ARGUMENT', 'no node names an admin listener: start nodes with --listen-metrics, or give --from host:port');
}

/**
 * Downloads the backup at `http://<from>/snapshot` into `file`, checking it on the way. `timeoutMs`
 * bounds the wait for the answer to begin and every silence while the body arrives.
 */
async function download(from: string, file: string, timeoutMs: number): Promise<BackupSummary> {
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), timeoutMs);
  const rearm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), timeoutMs);
  };
  const part = `${file}.part`;
  let out: Awaited<ReturnType<typeof open>> | undefined;
  try {
    let res: Response;
    try {
      res = await fetch(`http://${from}/snapshot`, { signal: abort.signal });
    } catch (error) {
      throw abort.signal.aborted
        ? new KeelError('TIMEOUT', `no answer from ${from} within ${timeoutMs} ms`, { definite: true })
        : new KeelError('CONNECTION_LOST', `cannot reach the admin listener at ${from}: ${causeOf(error)}`, { definite: true });
    }
    if (res.status !== 200 || res.body === null) throw await refusal(res, from);
    rearm();
    out = await open(part, 'w');
    const body = res.body;
    const file$ = out;
    async function* saved(): AsyncGenerator<Uint8Array> {
      for await (const piece of body as AsyncIterable<Uint8Array>) {
        rearm();
        await file$.write(piece);
        yield piece;
      }
    }
    let summary: BackupSummary | undefined;
    try {
      for await (const item of readBackup(saved())) if (item.kind === 'end') summary = item.summary;
    } catch (error) {
      if (abort.signal.aborted) throw new KeelError('TIMEOUT', `the backup from ${from} stalled for ${timeoutMs} ms`, { definite: true });
      if (error instanceof KeelError || error instanceof BackupError) throw error;
      throw new KeelError('CONNECTION_LOST', `the backup from ${from} broke off: ${causeOf(error)}`, { definite: true });
    }
    await out.sync();
    await out.close();
    out = undefined;
    await rename(part, file);
    return summary!;
  } finally {
    clearTimeout(timer);
    if (out !== undefined) {
      await out.close();
      await rm(part, { force: true });
    }
  }
}

/** The node's refusal as a KeelError: its JSON `{error, code}`, or the HTTP status. */
async function refusal(res: Response, from: string): Promise<KeelError> {
  const text = await res.text().catch(() => '');
  let body: { error?: unknown; code?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  const message = `${from} refused the backup (HTTP ${res.status}): ${typeof body.error === 'string' ? body.error : text.slice(0, 200)}`;
  const code = typeof body.code === 'string' && Object.hasOwn(ERROR_CODES, body.code) ? (body.code as ErrorCode) : res.status === 503 ? 'UNAVAILABLE' : 'INTERNAL';
  return new KeelError(code, message, { definite: true });
}

async function readable(file: string): Promise<void> {
  await access(file).catch((error: Error) => {
    throw new KeelError('INVALID_ARGUMENT', `cannot read ${file}: ${error.message}`);
  });
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (error as Error).message;
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
