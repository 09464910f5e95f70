/**
 * kvctl's output formats (etcdctl's `-w`), one place for each: what every command prints in
 * `simple` (lines for people and shell pipes), `json` (one document, every byte kept: text when it
 * is UTF-8, else base64), `table` (aligned columns, bytes escaped) and `fields` (one `"Name" : value`
 * line per field, byte strings quoted and escaped: unambiguous whatever the bytes).
 *
 * Byte strings in `simple` output are written as they are (binary values included), so `get`
 * keeps every byte but lines can be ambiguous when keys or values hold tabs or newlines: use
 * `--hex`, `fields` or `json` then, or `get --raw` for exactly one value.
 */
import type { Member } from '@keel/protocol';
import type { KvEntry } from '../entry.js';
import type { EndpointStatus } from '../results.js';
import type { TxnOperationResult, TxnResult } from '../txn.js';
import type { WatchChange } from '../watch.js';
import { entryJson, escapeBytes, formatMemberTable, formatStatusTable, formatTable, hexBytes, statusJson } from './format.js';

export const OUTPUT_FORMATS = ['simple', 'json', 'table', 'fields'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputOptions {
  readonly format: OutputFormat;
  /** Keys and values as `\xNN` per byte (simple, table, fields). */
  readonly hex: boolean;
  /** Keys without values. */
  readonly keysOnly: boolean;
  /** Values without keys (simple). */
  readonly valueOnly: boolean;
}

/** A field of a `fields` block or a column of a one-row table. */
type Field = readonly [name: string, value: string | number | boolean];

export class Printer {
  constructor(
    private readonly write: (chunk: string | Uint8Array) => void,
    private readonly o: OutputOptions,
  ) {}

  /** `get`: one entry (simple prints the value, or the key with --keys-only). */
  entry(e: KvEntry): void {
    if (this.o.format === 'json') return this.json({ found: true, ...this.entryJson(e) });
    if (this.o.format === 'simple') return this.line(this.o.keysOnly ? e.key : e.value);
    this.entries([e], []);
  }

  /** `scan`: entries in key order, then whether more match and the revision read. */
  scan(entries: readonly KvEntry[], more: boolean, revision: number): void {
    if (this.o.format === 'json') return this.json({ entries: entries.map((e) => this.entryJson(e)), more, revision });
    if (this.o.format === 'simple') {
      for (const e of entries) {
        if (this.o.keysOnly) this.line(e.key);
        else if (this.o.valueOnly) this.line(e.value);
        else this.line(e.key, e.value);
      }
      return;
    }
    this.entries(entries, [
      ['Count', entries.length],
      ['More', more],
      ['Revision', revision],
    ]);
  }

  /**
   * `watch`: one change as it happens. simple is etcdctl's: the type (PUT or DELETE), then with
   * --prev-kv the previous key and value, then the key and value (a delete's value is empty), a
   * line each; json is one document per line; table and fields a block per change.
   */
  watchChange(c: WatchChange): void {
    const type = c.type === 'put' ? 'PUT' : 'DELETE';
    if (this.o.format === 'json') {
      return this.json({ type, revision: c.revision, kv: this.entryJson(c.kv), ...(c.prevKv !== undefined ? { prevKv: c.prevKv === null ? null : this.entryJson(c.prevKv) } : {}) });
    }
    if (this.o.format === 'simple') {
      this.write(`${type}\n`);
      if (c.prevKv) this.watchEntry(c.prevKv);
      this.watchEntry(c.kv);
      return;
    }
    const quoted = (b: Uint8Array): string => (this.o.hex ? `"${hexBytes(b)}"` : escapeBytes(b, true));
    this.blocks(
      [
        [
          ['Type', type],
          ['Revision', c.revision],
          ['Key', quoted(c.kv.key)],
          ...(this.o.keysOnly ? [] : [['Value', quoted(c.kv.value)] as const]),
          ...(c.prevKv && !this.o.keysOnly ? [['PrevValue', quoted(c.prevKv.value)] as const] : []),
        ],
      ],
      false,
    );
    if (this.o.format === 'fields') this.write('\n');
  }

  /** `scan --count-only`. */
  count(count: number): void {
    if (this.o.format === 'json') return this.json({ count });
    if (this.o.format === 'simple') return this.write(`${count}\n`);
    this.fieldsOrRow([['Count', count]]);
  }

  /**
   * A write's (or another command's) result: `summary` is simple's first line, `fields` the same
   * for the other formats (json takes them as they are). `previous` is what a write replaced, when
   * asked for and known (see PrevKvOptions): one entry or null (put, delete), or entries (range).
   */
  result(summary: string, fields: readonly Field[], previous?: KvEntry | null | readonly KvEntry[]): void {
    const list = previous === undefined || previous === null ? [] : isList(previous) ? previous : [previous];
    if (this.o.format === 'json') {
      const prev =
        previous === undefined
          ? {}
          : previous === null
            ? { prevKv: null }
            : isList(previous)
              ? { prevKvs: list.map((e) => this.entryJson(e)) }
              : { prevKv: this.entryJson(previous) };
      return this.json({ ...Object.fromEntries(fields.map(([name, value]) => [camel(name), value])), ...prev });
    }
    if (this.o.format === 'simple') {
      this.write(`${summary}\n`);
      for (const e of list) this.line(e.key, e.value);
      return;
    }
    if (list.length === 0) return this.fieldsOrRow(fields);
    this.entries(list, fields);
  }

  /**
   * `txn`: SUCCESS or FAILURE and the revision, then each operation's result in order (simple:
   * `OK` for a put, the count for a delete, `key<TAB>value` lines for reads and previous entries).
   */
  txn(r: TxnResult): void {
    const results = r.results ?? [];
    if (this.o.format === 'json') {
      const entry = (e: KvEntry | null): unknown => (e === null ? null : this.entryJson(e));
      return this.json({
        succeeded: r.succeeded,
        revision: r.revision,
        ...(r.results !== undefined
          ? {
              results: results.map((x) => {
                switch (x.op) {
                  case 'put':
                    return { op: x.op, ...(x.prevKv !== undefined ? { prevKv: entry(x.prevKv) } : {}) };
                  case 'delete':
                    return { op: x.op, deleted: x.deleted, ...(x.prevKv !== undefined ? { prevKv: entry(x.prevKv) } : {}) };
                  case 'deleteRange':
                    return { op: x.op, deleted: x.deleted, ...(x.prevKvs !== undefined ? { prevKvs: x.prevKvs.map(entry) } : {}) };
                  case 'get':
                    return { op: x.op, entry: entry(x.entry) };
                  case 'range':
                    return { op: x.op, entries: x.entries.map(entry), more: x.more };
                }
              }),
            }
          : {}),
      });
    }
    const fields: Field[] = [
      ['Succeeded', r.succeeded],
      ['Revision', r.revision],
    ];
    if (this.o.format !== 'simple') {
      const read = results.flatMap(entriesOf);
      return read.length === 0 ? this.fieldsOrRow(fields) : this.entries(read, fields);
    }
    this.write(`${r.succeeded ? 'SUCCESS' : 'FAILURE'} revision=${r.revision}\n`);
    for (const x of results) {
      this.write('\n');
      if (x.op === 'put') this.write('OK\n');
      else if (x.op === 'delete' || x.op === 'deleteRange') this.write(`${Number(x.deleted)}\n`);
      for (const e of entriesOf(x)) this.line(e.key, e.value);
    }
  }

  status(statuses: readonly EndpointStatus[]): void {
    if (this.o.format === 'json') return this.json(statuses.map(statusJson));
    if (this.o.format === 'fields') return this.blocks(statuses.map((s) => Object.entries(statusJson(s)).map(([k, v]) => [title(k), fieldValue(v)] as const)));
    this.write(formatStatusTable(statuses));
  }

  members(members: readonly Member[], leader: number): void {
    if (this.o.format === 'json') return this.json({ members, leader });
    if (this.o.format === 'fields') {
      return this.blocks(
        [...members]
          .sort((a, b) => a.id - b.id)
          .map((m) => [['ID', m.id], ['Role', m.role], ['PeerAddress', m.peerAddress], ['ClientAddress', m.clientAddress], ['Leader', m.id === leader]] as const),
      );
    }
    this.write(formatMemberTable(members, leader));
  }

  json(value: unknown): void {
    this.write(JSON.stringify(value) + '\n');
  }

  /** A simple line: byte strings (raw, or hex) separated by tabs. */
  private line(...parts: Uint8Array[]): void {
    parts.forEach((p, i) => {
      if (i > 0) this.write('\t');
      this.write(this.o.hex ? hexBytes(p) : p);
    });
    this.write('\n');
  }

  /** A watched entry in simple output: the key, then (unless --keys-only) the value, a line each. */
  private watchEntry(e: KvEntry): void {
    if (!this.o.valueOnly) this.line(e.key);
    if (!this.o.keysOnly) this.line(e.value);
  }

  private entryJson(e: KvEntry): Record<string, unknown> {
    const json = entryJson(e);
    if (this.o.keysOnly) delete json['value'];
    return json;
  }

  /** Entries as a table (after a one-row table of `header`) or as fields blocks (after `header`). */
  private entries(entries: readonly KvEntry[], header: readonly Field[]): void {
    const text = (b: Uint8Array): string => (this.o.hex ? hexBytes(b) : escapeBytes(b));
    const quoted = (b: Uint8Array): string => (this.o.hex ? `"${hexBytes(b)}"` : escapeBytes(b, true));
    if (this.o.format === 'table') {
      if (header.length > 0) this.fieldsOrRow(header);
      const columns = this.o.keysOnly ? ['KEY', 'REVISION', 'CREATE-REVISION', 'VERSION'] : ['KEY', 'VALUE', 'REVISION', 'CREATE-REVISION', 'VERSION'];
      const rows = entries.map((e) => [
        text(e.key),
        ...(this.o.keysOnly ? [] : [text(e.value)]),
        String(e.revision),
        String(e.createRevision),
        String(e.version),
      ]);
      this.write(formatTable(columns, rows));
      return;
    }
    const blocks: Field[][] = entries.map((e) => [
      ['Key', quoted(e.key)],
      ...(this.o.keysOnly ? [] : [['Value', quoted(e.value)] as const]),
      ['Revision', e.revision],
      ['CreateRevision', e.createRevision],
      ['Version', e.version],
    ]);
    this.blocks(header.length > 0 ? [[...header], ...blocks] : blocks, false);
  }

  /** Fields as one block, or (table) as a one-row table. */
  private fieldsOrRow(fields: readonly Field[]): void {
    if (this.o.format === 'table') {
      this.write(formatTable(fields.map(([name]) => upper(name)), [fields.map(([, value]) => String(value))]));
      return;
    }
    this.blocks([fields]);
  }

  /** `"Name" : value` lines, a blank line between blocks. `quote`: JSON-quote string values. */
  private blocks(blocks: ReadonlyArray<readonly Field[]>, quote = true): void {
    const text = blocks
      .map((fields) => fields.map(([name, value]) => `"${name}" : ${typeof value === 'string' && quote ? JSON.stringify(value) : String(value)}\n`).join(''))
      .join('\n');
    this.write(text);
  }
}

/** The entries a txn operation's result carries: what it read, or the previous entries it returned. */
function entriesOf(x: TxnOperationResult): readonly KvEntry[] {
  switch (x.op) {
    case 'get':
      return x.entry === null ? [] : [x.entry];
    case 'range':
      return x.entries;
    case 'deleteRange':
      return x.prevKvs ?? [];
    default:
      return x.prevKv ? [x.prevKv] : [];
  }
}

function isList(v: KvEntry | readonly KvEntry[]): v is readonly KvEntry[] {
  return Array.isArray(v);
}

function fieldValue(v: unknown): string | number | boolean {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : JSON.stringify(v);
}

/** "createRevision" -> "CreateRevision". */
function title(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** "CreateRevision" -> "createRevision". */
function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** "CreateRevision" -> "CREATE-REVISION". */
function upper(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1-$2').toUpperCase();
}
