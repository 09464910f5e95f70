/**
 * `kvctl user …`, `kvctl role …` and `kvctl auth …`, in etcdctl's shapes and words. Every one
 * needs the root role once auth is enabled, except `auth status`.
 */
import type { Command } from 'commander';
import type { Permission, PermissionMode } from '@keel/protocol';
import { describePermissionRange, type PermissionRange } from '../auth.js';
import { utf8 } from '../bytes.js';
import type { CommandContext } from './program.js';
import type { PasswordPrompt } from './credentials.js';

const MODES: readonly PermissionMode[] = ['read', 'write', 'readwrite'];

export interface AuthCommandContext extends CommandContext {
  readonly prompt: PasswordPrompt;
  /** A usage error (exit status 2) with this message. */
  usage(message: string): Error;
}

export function registerAuthCommands(program: Command, ctx: AuthCommandContext): void {
  const say = (text: string, json: unknown): void => (ctx.json() ? ctx.printJson(json) : ctx.out(`${text}\n`));
  const newPassword = async (name: string, given: string | undefined): Promise<string> => given ?? ctx.prompt.askNew(name);

  const user = program.command('user').description('users: add, delete, get, list, passwd, grant-role, revoke-role (root role needed once auth is enabled)');
  user
    .command('add')
    .description('add a user (its password from name:password, --new-user-password, or typed at the terminal)')
    .argument('<name[:password]>')
    .option('--new-user-password <password>', 'the password (instead of typing it)')
    .action(
      ctx.withClient(async (c, _opts, spec: string, local: { newUserPassword?: string }) => {
        const colon = spec.indexOf(':');
        const name = colon < 0 ? spec : spec.slice(0, colon);
        const password = await newPassword(name, colon < 0 ? local.newUserPassword : spec.slice(colon + 1));
        const r = await c.userAdd(name, password);
        say(`User ${name} created`, { user: name, ...r });
      }),
    );
  user
    .command('delete')
    .argument('<name>')
    .action(
      ctx.withClient(async (c, _opts, name: string) => {
        const r = await c.userDelete(name);
        say(`User ${name} deleted`, { user: name, ...r });
      }),
    );
  user
    .command('get')
    .argument('<name>')
    .action(
      ctx.withClient(async (c, _opts, name: string) => {
        const r = await c.userGet(name);
        say(`User: ${r.user}\nRoles: ${r.roles.join(' ')}`, r);
      }),
    );
  user
    .command('list')
    .action(
      ctx.withClient(async (c) => {
        const users = await c.userList();
        say(users.join('\n'), { users });
      }),
    );
  user
    .command('passwd')
    .description("change a user's password (connections that used the old one must authenticate again)")
    .argument('<name>')
    .option('--new-user-password <password>', 'the password (instead of typing it)')
    .action(
      ctx.withClient(async (c, _opts, name: string, local: { newUserPassword?: string }) => {
        const r = await c.userPasswd(name, await newPassword(name, local.newUserPassword));
        say('Password updated', { user: name, ...r });
      }),
    );
  user
    .command('grant-role')
    .argument('<name>')
    .argument('<role>')
    .action(
      ctx.withClient(async (c, _opts, name: string, role: string) => {
        const r = await c.userGrantRole(name, role);
        say(`Role ${role} is granted to user ${name}`, { user: name, role, ...r });
      }),
    );
  user
    .command('revoke-role')
    .argument('<name>')
    .argument('<role>')
    .action(
      ctx.withClient(async (c, _opts, name: string, role: string) => {
        const r = await c.userRevokeRole(name, role);
        say(`Role ${role} is revoked from user ${name}`, { user: name, role, ...r });
      }),
    );

  const role = program.command('role').description('roles: add, delete, get, list, grant, revoke (root role needed once auth is enabled)');
  role
    .command('add')
    .argument('<role>')
    .action(
      ctx.withClient(async (c, _opts, name: string) => {
        const r = await c.roleAdd(name);
        say(`Role ${name} created`, { role: name, ...r });
      }),
    );
  role
    .command('delete')
    .description('delete a role and take it from every user')
    .argument('<role>')
    .action(
      ctx.withClient(async (c, _opts, name: string) => {
        const r = await c.roleDelete(name);
        say(`Role ${name} deleted`, { role: name, ...r });
      }),
    );
  role
    .command('get')
    .argument('<role>')
    .action(
      ctx.withClient(async (c, _opts, name: string) => {
        const r = await c.roleGet(name);
        if (ctx.json()) {
          ctx.printJson({ role: r.role, permissions: r.permissions.map(permissionJson) });
          return;
        }
        const lines = [`Role ${r.role}`];
        if (r.role === 'root') lines.push('every permission (the built-in root role)');
        for (const [title, wanted] of [
          ['KV Read:', 'read'],
          ['KV Write:', 'write'],
        ] as const) {
          lines.push(title);
          for (const p of r.permissions) if (p.mode === wanted || p.mode === 'readwrite') lines.push(`\t${describe(p)}`);
        }
        ctx.out(lines.join('\n') + '\n');
      }),
    );
  role
    .command('list')
    .action(
      ctx.withClient(async (c) => {
        const roles = await c.roleList();
        say(roles.join('\n'), { roles });
      }),
    );
  role
    .command('grant')
    .alias('grant-permission')
    .description('grant read, write or readwrite on a key, a range [key, range-end), a prefix (--prefix) or every key from <key> (--from-key)')
    .argument('<role>')
    .argument('<mode>', 'read, write or readwrite')
    .argument('<key>')
    .argument('[range-end]')
    .option('--prefix', 'every key starting with <key> ("" for every key)')
    .option('--from-key', '<key> and every key after it')
    .action(
      ctx.withClient(async (c, _opts, name: string, mode: string, key: string, rangeEnd: string | undefined, local: RangeFlags) => {
        if (!MODES.includes(mode as PermissionMode)) throw ctx.usage(`<mode> must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
        const r = await c.roleGrant(name, mode as PermissionMode, rangeOf(ctx, key, rangeEnd, local));
        say(`Role ${name} updated`, { role: name, ...r });
      }),
    );
  role
    .command('revoke')
    .alias('revoke-permission')
    .description('remove the permission on exactly that key, range, prefix or from-key range')
    .argument('<role>')
    .argument('<key>')
    .argument('[range-end]')
    .option('--prefix', 'every key starting with <key>')
    .option('--from-key', '<key> and every key after it')
    .action(
      ctx.withClient(async (c, _opts, name: string, key: string, rangeEnd: string | undefined, local: RangeFlags) => {
        const range = rangeOf(ctx, key, rangeEnd, local);
        const r = await c.roleRevoke(name, range);
        say(`Permission of ${describeRange(range)} is revoked from role ${name}`, { role: name, ...r });
      }),
    );

  const auth = program.command('auth').description('enable, disable or show authentication');
  auth
    .command('enable')
    .description('enable authentication: the user root must exist, and gets the root role')
    .action(
      ctx.withClient(async (c) => {
        const r = await c.authEnable();
        say('Authentication Enabled', r);
      }),
    );
  auth
    .command('disable')
    .action(
      ctx.withClient(async (c) => {
        const r = await c.authDisable();
        say('Authentication Disabled', r);
      }),
    );
  auth
    .command('status')
    .action(
      ctx.withClient(async (c) => {
        const r = await c.authStatus();
        say(`Authentication Status: ${r.enabled}\nAuthRevision: ${r.revision}`, r);
      }),
    );
}

interface RangeFlags {
  prefix?: boolean;
  fromKey?: boolean;
}

function rangeOf(ctx: AuthCommandContext, key: string, rangeEnd: string | undefined, local: RangeFlags): PermissionRange {
  if ([rangeEnd !== undefined, local.prefix === true, local.fromKey === true].filter(Boolean).length > 1) {
    throw ctx.usage('give one of [range-end], --prefix, --from-key');
  }
  if (local.prefix === true) return { prefix: key };
  if (local.fromKey === true) return { start: key };
  if (rangeEnd !== undefined) return { start: key, end: rangeEnd };
  return { key };
}

function describeRange(r: PermissionRange): string {
  const text = (b: string | Uint8Array): string => (typeof b === 'string' ? b : utf8(b));
  if ('key' in r) return text(r.key);
  if ('prefix' in r) return `${text(r.prefix)} (prefix ${text(r.prefix)})`;
  return r.end === undefined ? `[${text(r.start)}, <end>) (from key ${text(r.start)})` : `[${text(r.start)}, ${text(r.end)})`;
}

function describe(p: Permission): string {
  return describeRange(describePermissionRange(p));
}

function permissionJson(p: Permission): unknown {
  const r = describePermissionRange(p);
  const text = (b: string | Uint8Array): string => (typeof b === 'string' ? b : utf8(b));
  const shape = 'key' in r ? { key: text(r.key) } : 'prefix' in r ? { prefix: text(r.prefix) } : { start: text(r.start), ...(r.end !== undefined ? { end: text(r.end) } : {}) };
  return { mode: p.mode, ...shape };
}
