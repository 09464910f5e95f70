/**
 * Issue 9, item 10: kvctl output that keeps every byte. The printer (cli/printer.ts) for each
 * output format, with keys and values holding tabs, newlines and bytes that are not UTF-8; the
 * byte escapes; the completion script run by a real bash; `--version`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KvEntry } from '@keel/client';
import { escapeBytes, hexBytes } from '../src/cli/format.js';
import { Printer } from '../src/cli/printer.js';
import type { OutputFormat, OutputOptions } from '../src/cli/printer.js';
import { runCli } from '../src/cli/program.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const entry = (key: Uint8Array, value: Uint8Array, revision = 7): KvEntry =>
  new KvEntry({ key, value, createRevision: revision - 1, modRevision: revision, version: 2 });

/** What the printer writes, as bytes. */
function printed(options: Partial<OutputOptions> & { format: OutputFormat }, print: (p: Printer) => void): Buffer {
  const chunks: Buffer[] = [];
  print(new Printer((c) => chunks.push(Buffer.from(c)), { hex: false, keysOnly: false, valueOnly: false, ...options }));
  return Buffer.concat(chunks);
}
const text = (buffer: Buffer): string => buffer.toString('latin1');

const binary = new Uint8Array([0x00, 0xff, 0x0a, 0x09, 0x5c, 0xe2, 0x82, 0xac, 0xc3]); // NUL, invalid, \n, \t, \, €, truncated

describe('byte escapes', () => {
  it('escape control characters, backslashes and invalid UTF-8 byte by byte, keeping printable text', () => {
    expect(escapeBytes(binary)).toBe('\\x00\\xff\\n\\t\\\\€\\xc3');
    expect(escapeBytes(b('say "hi"'), true)).toBe('"say \\"hi\\""');
    expect(escapeBytes(new Uint8Array([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80'); // a surrogate is not UTF-8
    expect(escapeBytes(new Uint8Array([0xc2, 0x85]))).toBe('\\xc2\\x85'); // C1 control
    expect(hexBytes(b('ab'))).toBe('\\x61\\x62');
  });

  it('are unambiguous: different bytes never print the same', () => {
    const samples = [b('a\\x00'), new Uint8Array([0x61, 0x00]), b('\\'), new Uint8Array([0x5c, 0x5c]), b('\n'), b('\\n')];
    const shown = samples.map((s) => escapeBytes(s));
    expect(new Set(shown).size).toBe(samples.length);
  });
});

describe('kvctl output formats', () => {
  const weird = entry(b('key\twith\ttabs'), binary);

  it('simple: get writes the value bytes as they are; scan one key<TAB>value line each; --hex escapes every byte', () => {
    expect([...printed({ format: 'simple' }, (p) => p.entry(weird))]).toEqual([...binary, 0x0a]);
    expect(text(printed({ format: 'simple', keysOnly: true }, (p) => p.entry(weird)))).toBe('key\twith\ttabs\n');
    expect(text(printed({ format: 'simple' }, (p) => p.scan([entry(b('a'), b('1')), entry(b('b'), b('2'))], false, 9)))).toBe('a\t1\nb\t2\n');
    expect(text(printed({ format: 'simple', valueOnly: true }, (p) => p.scan([entry(b('a'), b('1'))], false, 9)))).toBe('1\n');
    expect(text(printed({ format: 'simple', hex: true }, (p) => p.scan([weird], false, 9)))).toBe(`${hexBytes(weird.key)}\t${hexBytes(binary)}\n`);
  });

  it('fields: one quoted, escaped line per field, so tabs and newlines in keys and values stay readable and exact', () => {
    const out = printed({ format: 'fields' }, (p) => p.scan([weird], true, 9)).toString('utf8');
    expect(out).toBe(
      ['"Count" : 1', '"More" : true', '"Revision" : 9', '', '"Key" : "key\\twith\\ttabs"', '"Value" : "\\x00\\xff\\n\\t\\\\€\\xc3"', '"Revision" : 7', '"CreateRevision" : 6', '"Version" : 2', ''].join('\n'),
    );
  });

  it('table: escaped cells in aligned columns; json: text when UTF-8, else base64; --keys-only drops values', () => {
    const table = printed({ format: 'table' }, (p) => p.entry(weird)).toString('utf8');
    expect(table.split('\n')[0]!.split(/\s+/)).toEqual(['KEY', 'VALUE', 'REVISION', 'CREATE-REVISION', 'VERSION']);
    expect(table).toContain('key\\twith\\ttabs  \\x00\\xff\\n\\t\\\\€\\xc3  7');
    const json = JSON.parse(printed({ format: 'json' }, (p) => p.entry(weird)).toString('utf8')) as Record<string, unknown>;
    expect(json).toEqual({ found: true, key: 'key\twith\ttabs', value: { base64: Buffer.from(binary).toString('base64') }, revision: 7, createRevision: 6, version: 2 });
    const keys = JSON.parse(printed({ format: 'json', keysOnly: true }, (p) => p.scan([weird], false, 9)).toString('utf8')) as { entries: object[] };
    expect(keys.entries).toEqual([{ key: 'key\twith\ttabs', revision: 7, createRevision: 6, version: 2 }]);
  });

  it('write results with previous entries, and counts, in every format', () => {
    const prev = entry(b('k'), b('old'), 3);
    expect(text(printed({ format: 'simple' }, (p) => p.result('OK revision=4', [['Revision', 4]], prev)))).toBe('OK revision=4\nk\told\n');
    expect(text(printed({ format: 'simple' }, (p) => p.result('OK revision=4', [['Revision', 4]], null)))).toBe('OK revision=4\n');
    expect(JSON.parse(text(printed({ format: 'json' }, (p) => p.result('', [['Revision', 4]], prev))))).toEqual({
      revision: 4,
      prevKv: { key: 'k', value: 'old', revision: 3, createRevision: 2, version: 2 },
    });
    expect(JSON.parse(text(printed({ format: 'json' }, (p) => p.result('', [['Revision', 4], ['Deleted', 0]], []))))).toEqual({ revision: 4, deleted: 0, prevKvs: [] });
    expect(text(printed({ format: 'fields' }, (p) => p.result('', [['Revision', 4], ['Deleted', true]])))).toBe('"Revision" : 4\n"Deleted" : true\n');
    expect(text(printed({ format: 'table' }, (p) => p.count(12)))).toBe('COUNT\n12\n');
    expect(text(printed({ format: 'simple' }, (p) => p.count(12)))).toBe('12\n');
  });
});

describe('kvctl completion and version', () => {
  async function kvctl(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const status = await runCli(args, {
      stdout: { write: (c: string | Uint8Array) => (stdout += c.toString()) },
      stderr: { write: (c: string) => (stderr += c) },
      stdin: { isTTY: true, [Symbol.asyncIterator]: async function* () {} },
      env: {},
    });
    return { status, stdout, stderr };
  }

  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await kvctl(['--version'])).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('completes commands, subcommands, options and option values in a real bash', async () => {
    const script = await kvctl(['completion', 'bash']);
    expect(script.status).toBe(0);
    const complete = (...words: string[]): string[] => {
      const r = spawnSync(
        'bash',
        ['-c', `${script.stdout}\nCOMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _kvctl; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', 'kvctl', ...words],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter((l) => l.length > 0);
    };
    expect(complete('ge')).toEqual(['get']);
    expect(complete('member', '')).toEqual(expect.arrayContaining(['list', 'add', 'add-learner', 'promote', 'remove']));
    expect(complete('--endpoints', 'h:1', 'del', 'k', '--p')).toEqual(['--prefix', '--prev-kv', '--password']); // the last a global option
    expect(complete('delete', 'k', '--from')).toEqual(['--from-key']);
    expect(complete('get', 'k', '--r')).toEqual(['--raw']);
    expect(complete('-w', '')).toEqual(['simple', 'json', 'table', 'fields']);
    expect(complete('scan', '--consistency', 's')).toEqual(['serializable']);
    expect(complete('completion', 'z')).toEqual(['zsh']);
    const zsh = await kvctl(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef kvctl\n/);
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain(script.stdout);
    expect((await kvctl(['completion', 'fish'])).status).toBe(2);
  });
});
