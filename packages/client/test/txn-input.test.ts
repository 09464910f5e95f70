import { describe, expect, it } from 'vitest';
import { TxnSyntaxError, parseTxn } from '../src/cli/txn-input.js';

const bytes = (s: string): Buffer => Buffer.from(s);

describe("kvctl txn's input (etcdctl's format)", () => {
  it('reads every compare target and its short name, with quoted keys and values', () => {
    const t = parseTxn(['value("k") = "v v"', 'val("k") != ""', 'version("k") > "0"', 'ver("k") < "3"', 'create("k") = "7"', 'c("k") = "7"', 'mod("k") > "9"', 'm("k")<"9"'], [], []);
    expect(t.compare).toEqual([
      { key: bytes('k'), target: 'value', op: '=', value: bytes('v v') },
      { key: bytes('k'), target: 'value', op: '!=', value: bytes('') },
      { key: bytes('k'), target: 'version', op: '>', value: 0 },
      { key: bytes('k'), target: 'version', op: '<', value: 3 },
      { key: bytes('k'), target: 'createRevision', op: '=', value: 7 },
      { key: bytes('k'), target: 'createRevision', op: '=', value: 7 },
      { key: bytes('k'), target: 'modRevision', op: '>', value: 9 },
      { key: bytes('k'), target: 'modRevision', op: '<', value: 9 },
    ]);
  });

  it('reads put, get and del with their ranges and flags; quoted words keep spaces and escapes', () => {
    const t = parseTxn(
      [],
      ['put "a key" "line\\none \\"quoted\\" \\x00\\xff" --prev-kv', 'get k', 'get k z', 'get p --prefix', 'get f --from-key --limit 2', 'get k --limit 1'],
      ['del k', 'delete k z --prev-kv', 'del p --prefix', 'del f --from-key'],
    );
    expect(t.success).toEqual([
      { op: 'put', key: bytes('a key'), value: Buffer.from([...bytes('line\none "quoted" '), 0x00, 0xff]), prevKv: true },
      { op: 'get', key: bytes('k') },
      { op: 'range', start: bytes('k'), end: bytes('z') },
      { op: 'range', prefix: bytes('p') },
      { op: 'range', start: bytes('f'), limit: 2 },
      { op: 'range', start: bytes('k'), end: Buffer.from([0x6b, 0]), limit: 1 },
    ]);
    expect(t.failure).toEqual([
      { op: 'delete', key: bytes('k') },
      { op: 'deleteRange', start: bytes('k'), end: bytes('z'), prevKv: true },
      { op: 'deleteRange', prefix: bytes('p') },
      { op: 'deleteRange', start: bytes('f') },
    ]);
  });

  it('names the line and the mistake', () => {
    const cases: Array<[string[], string[], RegExp]> = [
      [['value(k) = "v"'], [], /must be quoted/],
      [['lease("k") = "1"'], [], /unknown target "lease"/],
      [['value("k") == "v"'], [], /unknown operator "=="/],
      [['mod("k") > "-1"'], [], /non-negative integer/],
      [['value "k" = "v"'], [], /no "\("/],
      [[], ['put k'], /put takes <key> <value>/],
      [[], ['get k --prev-kv'], /get does not take --prev-kv/],
      [[], ['del k z --prefix'], /one of \[range-end\], --prefix, --from-key/],
      [[], ['del k --limit 3'], /does not take --limit/],
      [[], ['txn k'], /expected put, get or del/],
      [[], ['put k "open'], /unterminated/],
      [[], ['put k "\\q"'], /unknown escape/],
    ];
    for (const [compares, success, message] of cases) {
      expect(() => parseTxn(compares, success, [])).toThrow(TxnSyntaxError);
      expect(() => parseTxn(compares, success, [])).toThrow(message);
    }
  });
});
