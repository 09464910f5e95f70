/**
 * Issue 9, item 12: an application outside the workspace depends on Keel through packed
 * tarballs. `pnpm pack` packs @keel/client, @keel/protocol, @keel/kv-server and @keel/raft
 * (rewriting their `workspace:` versions), npm installs them into a temporary project outside
 * the repository (third-party dependencies from the registry, or npm's cache), the installed
 * `keel-server` runs a node, and the README's client snippet, type-checked against the packed
 * types, and `npx kvctl` talk to it from that project.
 *
 * Needs the build (`pnpm test` builds first) and npm's registry or a warm npm cache. About
 * 15-30 s, most of it in `npm install`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeelClient } from '@keel/client';
import { NodeProcess, ROOT, TEST_TUNING, freePorts, requireBuilt, waitForProgress } from '@keel/test-support';

const run = promisify(execFile);
const PACKAGES = ['@keel/client', '@keel/protocol', '@keel/kv-server', '@keel/raft'];

let dir: string | undefined;
let app = '';
let server: NodeProcess | undefined;
let endpoint = '';

beforeAll(async () => {
  requireBuilt();
  dir = mkdtempSync(join(tmpdir(), 'keel-packed-'));
  const packed = join(dir, 'tarballs');
  app = join(dir, 'app');
  mkdirSync(app);
  const filters = PACKAGES.flatMap((p) => ['--filter', p]);
  await run('npx', ['--yes', 'pnpm@10', '-r', ...filters, 'pack', '--pack-destination', packed], { cwd: ROOT });
  const tarballs = readdirSync(packed).map((f) => join(packed, f));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'keel-packed-app', version: '1.0.0', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error', ...tarballs], { cwd: app });

  const [clientPort, peerPort] = await freePorts(2);
  endpoint = `127.0.0.1:${clientPort!}`;
  server = NodeProcess.spawn({
    serverBin: join(app, 'node_modules', '.bin', 'keel-server'), // npm's link to the installed bin
    args: ['--id', '1', '--data-dir', join(dir, 'data'), '--initial-cluster', `1=127.0.0.1:${peerPort!}/${endpoint}`, ...TEST_TUNING],
    label: 'installed keel-server',
    logLinesMax: 100,
  });
  const probe = new KeelClient({ endpoints: [endpoint], timeoutMs: 1000 });
  try {
    const proc = server;
    let seen: unknown;
    await waitForProgress(
      async () => {
        const [s] = await probe.status();
        seen = s;
        return s?.ok === true && s.status.role === 'leader';
      },
      () => [seen, proc.logs.length, proc.stderrLines.length],
      () => `the installed keel-server leading\n${proc.tail()}`,
    );
  } finally {
    await probe.close();
  }
}, 240_000);

afterAll(async () => {
  await server?.kill();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The README's TypeScript client snippet, pointed at `endpoints`. */
function readmeSnippet(endpoints: readonly string[]): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /From TypeScript:\s*```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no "From TypeScript:" snippet');
  const pointed = block.replace(/endpoints: \[[^\]]*\]/, `endpoints: ${JSON.stringify(endpoints)}`);
  expect(pointed).not.toBe(block);
  return pointed;
}

describe('the packed packages in a project outside the workspace (item 12)', () => {
  it('are publishable: no workspace: versions, not private, and every source map resolves inside the package', () => {
    for (const name of PACKAGES) {
      const root = join(app, 'node_modules', name);
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest['private'], name).toBeUndefined();
      expect(JSON.stringify(manifest['dependencies'] ?? {}), name).not.toContain('workspace:');
      const maps: string[] = [];
      const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name));
          else if (e.name.endsWith('.map')) maps.push(join(d, e.name));
        }
      };
      walk(join(root, 'dist'));
      expect(maps.length, name).toBeGreaterThan(0);
      for (const map of maps) {
        for (const source of (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources) {
          const file = resolve(dirname(map), source);
          expect(relative(root, file).startsWith('..'), `${map} -> ${source}`).toBe(false);
          expect(existsSync(file), `${map} -> ${source}`).toBe(true);
        }
      }
    }
  });

  it("runs the README's client snippet, type-checked against the packed types", async () => {
    const snippet = readmeSnippet([endpoint]);
    writeFileSync(join(app, 'snippet.mjs'), snippet);
    const { stdout } = await run(process.execPath, ['snippet.mjs'], { cwd: app });
    expect(stdout).toMatch(/^ada \d+\n$/);

    writeFileSync(join(app, 'snippet.ts'), snippet);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [], strict: true, noEmit: true, skipLibCheck: true },
        files: ['snippet.ts'],
      }),
    );
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app });
  });

  it('runs the installed kvctl with npx', async () => {
    const env = { ...process.env, XDG_CACHE_HOME: join(dir!, 'cache') };
    const kvctl = (...args: string[]) => run('npx', ['kvctl', '--endpoints', endpoint, ...args], { cwd: app, env });
    expect((await kvctl('put', 'from-npx', 'works')).stdout).toMatch(/^OK revision=\d+\n$/);
    expect((await kvctl('get', 'from-npx')).stdout).toBe('works\n');
    expect((await kvctl('get', 'user/1')).stdout).toBe('grace\n'); // written by the snippet
    const version = JSON.parse(readFileSync(join(ROOT, 'packages/client/package.json'), 'utf8')) as { version: string };
    expect((await run('npx', ['kvctl', '--version'], { cwd: app })).stdout).toBe(`${version.version}\n`);
  });
});
