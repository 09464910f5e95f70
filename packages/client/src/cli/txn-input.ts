/**
 * `kvctl txn` reads a transaction in etcdctl's format: compares, an empty line, the success
 * requests, an empty line, the failure requests (the end of input ends the last section early).
 *
 *   compares      <target>("<key>") <op> "<value>"     target: value|val, version|ver,
 *                                                       create|c (createRevision), mod|m
 *                                                       (modRevision); op: = != < >
 *   requests      put <key> <value> [--prev-kv]
 *                 get <key> [range-end] [--prefix] [--from-key] [--limit N]
 *                 del <key> [range-end] [--prefix] [--from-key] [--prev-kv]
 *
 * Words are separated by spaces; a word in double quotes may hold spaces and the escapes \" \\
 * \n \t \r and \xNN (any byte). A mistake is a `TxnSyntaxError` naming the line.
 */
import type { Compare, TxnOperation, TxnRequest } from '../txn.js';
import type { StdinLike } from './input.js';

export class TxnSyntaxError extends Error {}

/** The prompts of each section when stdin is a terminal (as etcdctl prints them). */
export const TXN_PROMPTS = ['compares:', 'success requests (get, put, del):', 'failure requests (get, put, del):'] as const;

/**
 * Reads the three sections from `stdin`, line by line; `prompt(i)` is called before section `i`
 * is read (kvctl prints the prompts when stdin is a terminal).
 */
export async function readTxn(stdin: StdinLike, prompt: (section: number) => void): Promise<TxnRequest> {
  const sections: string[][] = [[], [], []];
  let section = 0;
  prompt(0);
  for await (const line of lines(stdin)) {
    if (line.trim() === '') {
      if (++section === 3) break;
      prompt(section);
      continue;
    }
    sections[section]!.push(line);
  }
  return parseTxn(sections[0]!, sections[1]!, sections[2]!);
}

/** Parses the lines of the three sections. Throws `TxnSyntaxError`. */
export function parseTxn(compares: readonly string[], success: readonly string[], failure: readonly string[]): TxnRequest {
  return { compare: compares.map(parseCompare), success: success.map(parseRequest), failure: failure.map(parseRequest) };
}

const TARGETS: Readonly<Record<string, 'value' | 'version' | 'createRevision' | 'modRevision'>> = {
  value: 'value',
  val: 'value',
  version: 'version',
  ver: 'version',
  create: 'createRevision',
  c: 'createRevision',
  mod: 'modRevision',
  m: 'modRevision',
};

function parseCompare(line: string): Compare {
  const fail = (why: string): never => {
    throw new TxnSyntaxError(`compare ${JSON.stringify(line)}: ${why} (expected e.g. mod("key") > "0" or value("key") = "v")`);
  };
  const open = line.indexOf('(');
  if (open < 0) return fail('no "(" after the target');
  const name = line.slice(0, open).trim();
  const target = TARGETS[name];
  if (target === undefined) return fail(`unknown target ${JSON.stringify(name)}; known: ${Object.keys(TARGETS).join(', ')}`);
  const words = splitWords(line.slice(open + 1), fail);
  if (words.length !== 4 || words[1] !== ')') return fail('expected ("<key>") <op> "<value>"');
  const [key, , op, value] = words as [Buffer, string, string, Buffer];
  if (typeof key === 'string' || typeof op !== 'string' || typeof value === 'string') return fail('the key and value must be quoted');
  if (op !== '=' && op !== '!=' && op !== '<' && op !== '>') return fail(`unknown operator ${JSON.stringify(op)}; known: = != < >`);
  if (target === 'value') return { key, target, op, value };
  const text = value.toString('utf8');
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) return fail(`${name} compares with a non-negative integer, got ${JSON.stringify(text)}`);
  return { key, target, op, value: Number(text) };
}

function parseRequest(line: string): TxnOperation {
  const fail = (why: string): never => {
    throw new TxnSyntaxError(`request ${JSON.stringify(line)}: ${why}`);
  };
  const words = splitWords(line, fail).map((w) => (typeof w === 'string' ? Buffer.from(w) : w));
  const flags = new Set<string>();
  let limit: number | undefined;
  const args: Buffer[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!.toString('utf8');
    if (w === '--limit') {
      const n = words[++i]?.toString('utf8') ?? '';
      if (!/^\d+$/.test(n) || Number(n) < 1) fail('--limit takes a positive integer');
      limit = Number(n);
    } else if (w.startsWith('--')) flags.add(w);
    else args.push(words[i]!);
  }
  const verb = words[0]?.toString('utf8');
  const allowed: Record<string, readonly string[]> = { put: ['--prev-kv'], get: ['--prefix', '--from-key'], del: ['--prefix', '--from-key', '--prev-kv'], delete: ['--prefix', '--from-key', '--prev-kv'] };
  if (verb === undefined || allowed[verb] === undefined) return fail('expected put, get or del');
  for (const f of flags) if (!allowed[verb]!.includes(f)) fail(`${verb} does not take ${f}`);
  if (limit !== undefined && verb !== 'get') fail(`${verb} does not take --limit`);
  const prevKv = flags.has('--prev-kv') ? { prevKv: true } : {};
  if (verb === 'put') {
    if (args.length !== 2) fail('put takes <key> <value>');
    return { op: 'put', key: args[0]!, value: args[1]!, ...prevKv };
  }
  if (args.length < 1 || args.length > 2) fail(`${verb} takes <key> [range-end]`);
  const [key, rangeEnd] = args as [Buffer, Buffer | undefined];
  if ([rangeEnd !== undefined, flags.has('--prefix'), flags.has('--from-key')].filter(Boolean).length > 1) {
    fail('give one of [range-end], --prefix, --from-key');
  }
  const range = flags.has('--prefix') ? { prefix: key } : rangeEnd !== undefined ? { start: key, end: rangeEnd } : flags.has('--from-key') ? { start: key } : undefined;
  if (verb === 'get') {
    if (range === undefined && limit === undefined) return { op: 'get', key };
    return { op: 'range', ...(range ?? { start: key, end: Buffer.concat([key, Buffer.from([0])]) }), ...(limit !== undefined ? { limit } : {}) };
  }
  return range === undefined ? { op: 'delete', key, ...prevKv } : { op: 'deleteRange', ...range, ...prevKv };
}

/**
 * Splits a line into words: quoted words as bytes (escapes decoded), bare words as strings, and
 * a closing parenthesis as its own word (for compares).
 */
function splitWords(text: string, fail: (why: string) => never): Array<string | Buffer> {
  const words: Array<string | Buffer> = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (ch === ')') {
      words.push(')');
      i++;
    } else if (ch === '"') {
      const bytes: number[] = [];
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quoted word');
        const c = text[i]!;
        if (c === '"') break;
        if (c === '\\') {
          const e = text[i + 1];
          const simple: Record<string, number> = { '"': 0x22, '\\': 0x5c, n: 0x0a, t: 0x09, r: 0x0d };
          if (e !== undefined && simple[e] !== undefined) {
            bytes.push(simple[e]);
            i += 2;
          } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
            bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
            i += 4;
          } else {
            fail(`unknown escape \\${e ?? ''}`);
          }
          continue;
        }
        const cp = text.codePointAt(i)!;
        const chunk = String.fromCodePoint(cp);
        bytes.push(...Buffer.from(chunk, 'utf8'));
        i += chunk.length;
      }
      i++;
      words.push(Buffer.from(bytes));
    } else {
      let j = i;
      while (j < text.length && text[j] !== ' ' && text[j] !== '\t' && text[j] !== ')' && text[j] !== '"') j++;
      words.push(text.slice(i, j));
      i = j;
    }
  }
  return words;
}

/** The lines of `stdin` (UTF-8), as they arrive, without their line ends. */
async function* lines(stdin: StdinLike): AsyncGenerator<string> {
  let pending = '';
  const decoder = new TextDecoder();
  for await (const chunk of stdin) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      yield pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
    }
  }
  pending += decoder.decode();
  if (pending !== '') yield pending;
}
