import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_OPS,
  KeelError,
  LIMITS,
  NO_REQUEST_ID,
  RequestValidationError,
  validateClientRequest,
  validateClientResponse,
  validateServerFrame,
  type ErrorCode,
} from '@keel/protocol';

const key = new Uint8Array([0x6b]);
const session = { clientId: 'c1', seq: 5, ackedBelow: 3 };

/** One valid request per operation. */
const VALID: Record<string, Record<string, unknown>> = {
  get: { id: 1, op: 'get', key, consistency: 'linearizable' },
  put: { id: 2, op: 'put', key, value: new Uint8Array(0), session },
  delete: { id: 3, op: 'delete', key, session },
  deleteRange: { id: 12, op: 'deleteRange', start: new Uint8Array(0), end: key, prevKv: true, session },
  cas: { id: 4, op: 'cas', key, expect: { revision: 7 }, value: new Uint8Array([1]), session },
  txn: {
    id: 13,
    op: 'txn',
    compare: [
      { key, target: 'value', op: '=', value: new Uint8Array([1]) },
      { key, target: 'version', op: '>', value: 0 },
      { key, target: 'exists', value: false },
    ],
    success: [
      { op: 'put', key, value: new Uint8Array(0), prevKv: true },
      { op: 'delete', key },
      { op: 'deleteRange', start: new Uint8Array(0), end: key },
      { op: 'get', key },
      { op: 'range', start: key, limit: 5 },
    ],
    failure: [],
    session,
  },
  scan: { id: 5, op: 'scan', prefix: key, limit: 10, consistency: 'serializable' },
  watch: { id: 14, op: 'watch', prefix: key, fromRevision: 3, prevKv: true },
  watchCancel: { id: 15, op: 'watchCancel', watchId: 14 },
  compact: { id: 16, op: 'compact', revision: 9 },
  status: { id: 6, op: 'status' },
  digest: { id: 12, op: 'digest' },
  memberList: { id: 7, op: 'memberList' },
  memberAdd: { id: 8, op: 'memberAdd', nodeId: 4, peerAddress: '127.0.0.1:7004', clientAddress: 'node4.example:8004', learner: true },
  memberPromote: { id: 9, op: 'memberPromote', nodeId: 4 },
  memberRemove: { id: 10, op: 'memberRemove', nodeId: 4 },
  leaderTransfer: { id: 11, op: 'leaderTransfer', to: 2 },
  leaseGrant: { id: 13, op: 'leaseGrant', ttl: 10, session },
  leaseRevoke: { id: 14, op: 'leaseRevoke', lease: 7, session },
  leaseKeepAlive: { id: 15, op: 'leaseKeepAlive', lease: 7 },
  leaseTimeToLive: { id: 16, op: 'leaseTimeToLive', lease: 7, keys: true },
  leaseList: { id: 17, op: 'leaseList' },
  authenticate: { id: 20, op: 'authenticate', user: 'alice', password: 'pw' },
  authStatus: { id: 21, op: 'authStatus' },
  authEnable: { id: 22, op: 'authEnable' },
  authDisable: { id: 23, op: 'authDisable' },
  userAdd: { id: 24, op: 'userAdd', user: 'alice', password: 'pw' },
  userDelete: { id: 25, op: 'userDelete', user: 'alice' },
  userGet: { id: 26, op: 'userGet', user: 'alice' },
  userList: { id: 27, op: 'userList' },
  userPasswd: { id: 28, op: 'userPasswd', user: 'alice', password: 'pw2' },
  userGrantRole: { id: 29, op: 'userGrantRole', user: 'alice', role: 'app' },
  userRevokeRole: { id: 30, op: 'userRevokeRole', user: 'alice', role: 'app' },
  roleAdd: { id: 31, op: 'roleAdd', role: 'app' },
  roleDelete: { id: 32, op: 'roleDelete', role: 'app' },
  roleGet: { id: 33, op: 'roleGet', role: 'app' },
  roleList: { id: 34, op: 'roleList' },
  roleGrant: { id: 35, op: 'roleGrant', role: 'app', permission: { mode: 'readwrite', start: key, end: new Uint8Array([0x6c]) } },
  roleRevoke: { id: 36, op: 'roleRevoke', role: 'app', start: new Uint8Array(0), end: null },
};

function errorOf(value: unknown, frameBytes = 0): RequestValidationError {
  try {
    validateClientRequest(value, frameBytes);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestValidationError);
    expect(error).toBeInstanceOf(KeelError);
    return error as RequestValidationError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

function expectRejected(value: Record<string, unknown>, code: ErrorCode, message?: RegExp): void {
  const error = errorOf(value);
  expect(error.code).toBe(code);
  expect(error.requestId).toBe(value['id']);
  expect(error.definite).toBe(true);
  if (message) expect(error.message).toMatch(message);
}

const without = (r: Record<string, unknown>, field: string): Record<string, unknown> => {
  const copy = { ...r };
  delete copy[field];
  return copy;
};

describe('validateClientRequest', () => {
  it('accepts one valid request of every operation and returns only the known fields', () => {
    expect(Object.keys(VALID).sort()).toEqual([...CLIENT_OPS].sort());
    for (const request of Object.values(VALID)) {
      const checked = validateClientRequest({ ...request, extra: 'ignored' }, 100);
      expect(checked).toEqual(request);
      expect('extra' in checked).toBe(false);
    }
  });

  it('answers MALFORMED_FRAME with NO_REQUEST_ID when the frame is not a request with an id', () => {
    for (const value of [null, 3, 'get', [1, 'get'], new Uint8Array(2), { op: 'get' }, { id: -1, op: 'status' }, { id: 1.5, op: 'status' }, { id: '1', op: 'status' }]) {
      const error = errorOf(value);
      expect(error.code).toBe('MALFORMED_FRAME');
      expect(error.requestId).toBe(NO_REQUEST_ID);
    }
  });

  it('answers TOO_LARGE for a request frame over LIMITS.requestBytesMax', () => {
    expect(validateClientRequest(VALID['status'], LIMITS.requestBytesMax).op).toBe('status');
    const error = errorOf(VALID['status'], LIMITS.requestBytesMax + 1);
    expect(error.code).toBe('TOO_LARGE');
    expect(error.requestId).toBe(6);
  });

  it('answers INVALID_ARGUMENT for a missing or non-string op and UNKNOWN_COMMAND for an unknown one', () => {
    expectRejected({ id: 1 }, 'INVALID_ARGUMENT', /'op'/);
    expectRejected({ id: 1, op: 7 }, 'INVALID_ARGUMENT', /'op'/);
    expectRejected({ id: 1, op: 'frobnicate' }, 'UNKNOWN_COMMAND', /frobnicate/);
    expectRejected({ id: 1, op: 'toString' }, 'UNKNOWN_COMMAND');
  });

  it('answers INVALID_ARGUMENT when any required field is missing', () => {
    const required: Record<string, string[]> = {
      get: ['key', 'consistency'],
      put: ['key', 'value', 'session'],
      delete: ['key', 'session'],
      deleteRange: ['start', 'session'],
      cas: ['key', 'expect', 'value', 'session'],
      txn: ['compare', 'success', 'failure', 'session'],
      scan: ['limit', 'consistency'],
      memberAdd: ['nodeId', 'peerAddress', 'clientAddress', 'learner'],
      memberPromote: ['nodeId'],
      memberRemove: ['nodeId'],
      leaderTransfer: ['to'],
      leaseGrant: ['ttl', 'session'],
      leaseRevoke: ['lease', 'session'],
      leaseKeepAlive: ['lease'],
      leaseTimeToLive: ['lease'],
      authenticate: ['user', 'password'],
      userAdd: ['user', 'password'],
      userPasswd: ['user', 'password'],
      userDelete: ['user'],
      userGrantRole: ['user', 'role'],
      roleGet: ['role'],
      roleGrant: ['role', 'permission'],
      roleRevoke: ['role', 'start', 'end'],
    };
    for (const [op, fields] of Object.entries(required)) {
      for (const field of fields) expectRejected(without(VALID[op]!, field), 'INVALID_ARGUMENT', new RegExp(`'${field}`));
    }
  });

  it('answers INVALID_ARGUMENT for bad user and role names, passwords and permissions', () => {
    const long = 'x'.repeat(129);
    expectRejected({ ...VALID['userAdd']!, user: '' }, 'INVALID_ARGUMENT', /'user' must be a string of 1 to 128/);
    expectRejected({ ...VALID['roleAdd']!, role: long }, 'INVALID_ARGUMENT', /'role'/);
    expectRejected({ ...VALID['authenticate']!, password: '' }, 'INVALID_ARGUMENT', /'password'/);
    expectRejected({ ...VALID['userPasswd']!, password: 'é'.repeat(513) }, 'INVALID_ARGUMENT', /exceeds 1024 bytes/);
    const grant = VALID['roleGrant']! as { permission: Record<string, unknown> };
    expectRejected({ ...grant, permission: { ...grant.permission, mode: 'admin' } }, 'INVALID_ARGUMENT', /'permission.mode'/);
    expectRejected({ ...grant, permission: { ...grant.permission, end: key } }, 'INVALID_ARGUMENT', /would be empty/);
    expectRejected({ ...grant, permission: 'all' }, 'INVALID_ARGUMENT', /'permission' must be a map/);
  });

  it('answers INVALID_ARGUMENT for fields of the wrong type', () => {
    const wrong: Array<[string, string, unknown]> = [
      ['get', 'key', 'k'],
      ['get', 'consistency', 'strong'],
      ['put', 'value', [1, 2]],
      ['put', 'session', 'c1'],
      ['put', 'prevKv', 1],
      ['delete', 'prevKv', 'yes'],
      ['deleteRange', 'start', 'a'],
      ['deleteRange', 'end', 7],
      ['deleteRange', 'prevKv', 'true'],
      ['cas', 'expect', 7],
      ['scan', 'start', 'a'],
      ['scan', 'limit', '10'],
      ['memberAdd', 'nodeId', 0],
      ['memberAdd', 'nodeId', 2.5],
      ['memberAdd', 'peerAddress', 7004],
      ['memberAdd', 'peerAddress', 'no-port'],
      ['memberAdd', 'clientAddress', 'host:99999'],
      ['memberAdd', 'learner', 'yes'],
      ['memberPromote', 'nodeId', -3],
      ['memberRemove', 'nodeId', null],
      ['leaderTransfer', 'to', 2n],
      ['put', 'lease', 0],
      ['put', 'lease', '7'],
      ['leaseGrant', 'ttl', LIMITS.leaseTtlSecondsMin - 1],
      ['leaseGrant', 'ttl', LIMITS.leaseTtlSecondsMax + 1],
      ['leaseGrant', 'ttl', 2.5],
      ['leaseRevoke', 'lease', 0],
      ['leaseKeepAlive', 'lease', -1],
      ['leaseTimeToLive', 'keys', 'yes'],
    ];
    for (const [op, field, value] of wrong) {
      expectRejected({ ...VALID[op]!, [field]: value }, 'INVALID_ARGUMENT', new RegExp(`'${field}`));
    }
  });

  it('answers INVALID_ARGUMENT for empty keys and bad sessions', () => {
    expectRejected({ ...VALID['get']!, key: new Uint8Array(0) }, 'INVALID_ARGUMENT', /'key' must not be empty/);
    expectRejected({ ...VALID['put']!, session: { ...session, clientId: '' } }, 'INVALID_ARGUMENT', /clientId/);
    expectRejected({ ...VALID['put']!, session: { ...session, clientId: 'x'.repeat(LIMITS.clientIdBytesMax + 1) } }, 'INVALID_ARGUMENT', /clientId/);
    expectRejected({ ...VALID['put']!, session: { ...session, seq: -1 } }, 'INVALID_ARGUMENT', /'session.seq'/);
    expectRejected({ ...VALID['put']!, session: without(session, 'ackedBelow') }, 'INVALID_ARGUMENT', /'session.ackedBelow'/);
    expectRejected({ ...VALID['put']!, session: { ...session, ackedBelow: 6 } }, 'INVALID_ARGUMENT', /must not exceed/);
  });

  it('takes a lease on a put and on a txn put, and keeps it', () => {
    expect(validateClientRequest({ ...VALID['put']!, lease: 42 })).toMatchObject({ lease: 42 });
    expect('lease' in validateClientRequest(VALID['put']!)).toBe(false);
    const txn = validateClientRequest({ ...VALID['txn']!, success: [{ op: 'put', key, value: key, lease: 9 }] });
    expect(txn).toMatchObject({ success: [{ op: 'put', lease: 9 }] });
    expectRejected({ ...VALID['txn']!, success: [{ op: 'put', key, value: key, lease: 0 }] }, 'INVALID_ARGUMENT', /'success\[0\]\.lease'/);
  });

  it('takes prevKv as an optional flag and a range delete from an empty start to an optional, non-empty end', () => {
    expect(validateClientRequest({ ...VALID['put']!, prevKv: true })).toMatchObject({ prevKv: true });
    expect('prevKv' in validateClientRequest({ ...VALID['put']!, prevKv: false })).toBe(false);
    expect('prevKv' in validateClientRequest(without(VALID['delete']!, 'prevKv'))).toBe(false);
    const everything = validateClientRequest({ id: 1, op: 'deleteRange', start: new Uint8Array(0), session });
    expect(everything).toEqual({ id: 1, op: 'deleteRange', start: new Uint8Array(0), session });
    expectRejected({ ...VALID['deleteRange']!, end: new Uint8Array(0) }, 'INVALID_ARGUMENT', /'end' must not be empty/);
    expectRejected({ ...VALID['deleteRange']!, start: new Uint8Array(LIMITS.keyBytesMax + 1) }, 'TOO_LARGE', /'start'/);
    expectRejected({ ...VALID['deleteRange']!, end: new Uint8Array(LIMITS.keyBytesMax + 1) }, 'TOO_LARGE', /'end'/);
  });

  it('checks cas expectations: exactly one of value, revision or absent', () => {
    expect(validateClientRequest({ ...VALID['cas']!, expect: { absent: true } })).toMatchObject({ expect: { absent: true } });
    expect(validateClientRequest({ ...VALID['cas']!, expect: { value: new Uint8Array(0) } })).toMatchObject({ expect: { value: new Uint8Array(0) } });
    expectRejected({ ...VALID['cas']!, expect: {} }, 'INVALID_ARGUMENT', /exactly one/);
    expectRejected({ ...VALID['cas']!, expect: { revision: 1, absent: true } }, 'INVALID_ARGUMENT', /exactly one/);
    expectRejected({ ...VALID['cas']!, expect: { absent: false } }, 'INVALID_ARGUMENT', /'expect.absent'/);
    expectRejected({ ...VALID['cas']!, expect: { revision: -1 } }, 'INVALID_ARGUMENT', /'expect.revision'/);
    expectRejected({ ...VALID['cas']!, expect: { value: new Uint8Array(LIMITS.valueBytesMax + 1) } }, 'TOO_LARGE', /'expect.value'/);
  });

  it('checks every compare and operation of a txn, naming the one at fault, and at most LIMITS.txnOpsMax of each', () => {
    const txn = VALID['txn']!;
    const withCompare = (c: unknown): Record<string, unknown> => ({ ...txn, compare: [c] });
    const withOp = (o: unknown): Record<string, unknown> => ({ ...txn, failure: [{ op: 'get', key }, o] });
    expectRejected(withCompare({ key, target: 'value', op: '==', value: key }), 'INVALID_ARGUMENT', /'compare\[0\]\.op' must be one of/);
    expectRejected(withCompare({ key, target: 'lease', op: '=', value: 1 }), 'INVALID_ARGUMENT', /'compare\[0\]\.target'/);
    expectRejected(withCompare({ key, target: 'modRevision', op: '<', value: -1 }), 'INVALID_ARGUMENT', /'compare\[0\]\.value'/);
    expectRejected(withCompare({ key, target: 'modRevision', op: '<', value: key }), 'INVALID_ARGUMENT', /'compare\[0\]\.value' must be an integer/);
    expectRejected(withCompare({ key, target: 'exists', value: 1 }), 'INVALID_ARGUMENT', /'compare\[0\]\.value' must be a boolean/);
    expectRejected(withCompare({ key: new Uint8Array(0), target: 'exists', value: true }), 'INVALID_ARGUMENT', /'compare\[0\]\.key' must not be empty/);
    expectRejected(withCompare('k'), 'INVALID_ARGUMENT', /'compare\[0\]' must be an object/);
    expectRejected(withOp({ op: 'cas', key }), 'INVALID_ARGUMENT', /'failure\[1\]\.op' must be/);
    expectRejected(withOp({ op: 'put', key }), 'INVALID_ARGUMENT', /'failure\[1\]\.value'/);
    expectRejected(withOp({ op: 'range', start: key, limit: LIMITS.scanLimitMax + 1 }), 'INVALID_ARGUMENT', /'failure\[1\]\.limit'/);
    expectRejected(withOp({ op: 'deleteRange', start: key, end: new Uint8Array(0) }), 'INVALID_ARGUMENT', /'failure\[1\]\.end' must not be empty/);
    expectRejected(withOp({ op: 'put', key, value: new Uint8Array(LIMITS.valueBytesMax + 1) }), 'TOO_LARGE', /'failure\[1\]\.value'/);
    expectRejected({ ...txn, success: 'put' }, 'INVALID_ARGUMENT', /'success' must be an array/);
    const many = Array.from({ length: LIMITS.txnOpsMax }, () => ({ op: 'get', key }));
    expect(validateClientRequest({ ...txn, success: many }).op).toBe('txn');
    expectRejected({ ...txn, success: [...many, { op: 'get', key }] }, 'INVALID_ARGUMENT', new RegExp(`'success' holds ${LIMITS.txnOpsMax + 1} items; the limit is ${LIMITS.txnOpsMax}`));
    expectRejected({ ...txn, compare: Array.from({ length: LIMITS.txnOpsMax + 1 }, () => ({ key, target: 'exists', value: true })) }, 'INVALID_ARGUMENT', /'compare' holds/);
  });

  it('answers TOO_LARGE for keys and values over their limits, and accepts them at the limit', () => {
    const atKey = new Uint8Array(LIMITS.keyBytesMax);
    const atValue = new Uint8Array(LIMITS.valueBytesMax);
    expect(validateClientRequest({ ...VALID['put']!, key: atKey, value: atValue }).op).toBe('put');
    expectRejected({ ...VALID['put']!, key: new Uint8Array(LIMITS.keyBytesMax + 1) }, 'TOO_LARGE', /'key'/);
    expectRejected({ ...VALID['put']!, value: new Uint8Array(LIMITS.valueBytesMax + 1) }, 'TOO_LARGE', /'value'/);
    expectRejected({ ...VALID['get']!, key: new Uint8Array(LIMITS.keyBytesMax + 1) }, 'TOO_LARGE');
    expectRejected({ ...VALID['scan']!, prefix: new Uint8Array(LIMITS.keyBytesMax + 1) }, 'TOO_LARGE', /'prefix'/);
  });

  it('checks scan bounds and its limit in 1..LIMITS.scanLimitMax', () => {
    const range = { id: 5, op: 'scan', start: new Uint8Array([1]), end: new Uint8Array([2]), limit: LIMITS.scanLimitMax, consistency: 'linearizable' };
    expect(validateClientRequest(range)).toEqual(range);
    expect(validateClientRequest({ ...range, start: null, end: undefined })).toEqual({ id: 5, op: 'scan', limit: LIMITS.scanLimitMax, consistency: 'linearizable' });
    expectRejected({ ...range, limit: 0 }, 'INVALID_ARGUMENT', /'limit'/);
    expectRejected({ ...range, limit: LIMITS.scanLimitMax + 1 }, 'INVALID_ARGUMENT', /'limit'/);
    expectRejected({ ...range, limit: 1.5 }, 'INVALID_ARGUMENT', /'limit'/);
    expectRejected({ ...range, prefix: new Uint8Array([1]) }, 'INVALID_ARGUMENT', /either 'prefix'/);
    expectRejected({ ...range, end: new Uint8Array(0) }, 'INVALID_ARGUMENT', /'end' must not be empty/);
  });

  it('takes a watch of exactly one key, prefix or range, from a revision >= 1, and compaction revisions >= 1', () => {
    const k = new Uint8Array([1]);
    expect(validateClientRequest({ id: 1, op: 'watch', key: k })).toEqual({ id: 1, op: 'watch', key: k });
    expect(validateClientRequest({ id: 1, op: 'watch', start: new Uint8Array(0) })).toEqual({ id: 1, op: 'watch', start: new Uint8Array(0) });
    expect(validateClientRequest({ id: 1, op: 'watch', start: k, end: new Uint8Array([2]), fromRevision: 1 })).toMatchObject({ end: new Uint8Array([2]), fromRevision: 1 });
    expectRejected({ id: 1, op: 'watch' }, 'INVALID_ARGUMENT', /exactly one of 'key', 'prefix' or 'start', got none/);
    expectRejected({ id: 1, op: 'watch', key: k, prefix: k }, 'INVALID_ARGUMENT', /got key, prefix/);
    expectRejected({ id: 1, op: 'watch', key: k, end: k }, 'INVALID_ARGUMENT', /'end' goes with 'start' only/);
    expectRejected({ id: 1, op: 'watch', start: k, end: k }, 'INVALID_ARGUMENT', /'end' must sort after 'start'/);
    expectRejected({ id: 1, op: 'watch', prefix: new Uint8Array(0) }, 'INVALID_ARGUMENT', /'prefix' must not be empty/);
    expectRejected({ id: 1, op: 'watch', key: k, fromRevision: 0 }, 'INVALID_ARGUMENT', /'fromRevision' must be in \[1,/);
    expectRejected({ id: 1, op: 'watch', key: k, fromRevision: 1.5 }, 'INVALID_ARGUMENT', /'fromRevision' must be an integer/);
    expectRejected({ id: 1, op: 'watch', key: new Uint8Array(LIMITS.keyBytesMax + 1) }, 'TOO_LARGE');
    expectRejected({ id: 1, op: 'watchCancel' }, 'INVALID_ARGUMENT', /'watchId' must be an integer/);
    expectRejected({ id: 1, op: 'compact', revision: 0 }, 'INVALID_ARGUMENT', /'revision' must be in \[1,/);
    expectRejected({ id: 1, op: 'compact', revision: 'x' }, 'INVALID_ARGUMENT', /'revision' must be an integer/);
  });

  it('only ever throws RequestValidationError with a stable code, whatever the input', () => {
    const anyField = fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 5 }));
    const request = fc.record(
      {
        id: fc.oneof(fc.nat(), anyField),
        op: fc.oneof(fc.constantFrom(...CLIENT_OPS), anyField),
        key: anyField,
        value: anyField,
        session: fc.oneof(fc.record({ clientId: fc.oneof(fc.string(), anyField), seq: anyField, ackedBelow: anyField }), anyField),
        expect: fc.oneof(fc.record({ value: anyField, revision: anyField, absent: anyField }, { requiredKeys: [] }), anyField),
        limit: fc.oneof(fc.integer(), anyField),
        consistency: fc.oneof(fc.constantFrom('linearizable', 'serializable'), anyField),
        nodeId: anyField,
        to: anyField,
        peerAddress: fc.oneof(fc.constant('127.0.0.1:1'), anyField),
        clientAddress: anyField,
        learner: anyField,
      },
      { requiredKeys: [] },
    );
    const codes = new Set(['MALFORMED_FRAME', 'TOO_LARGE', 'INVALID_ARGUMENT', 'UNKNOWN_COMMAND']);
    fc.assert(
      fc.property(request, fc.nat({ max: LIMITS.requestBytesMax + 10 }), (value, frameBytes) => {
        try {
          const checked = validateClientRequest(value, frameBytes);
          expect(CLIENT_OPS).toContain(checked.op);
          expect(checked.id).toBe(value.id);
        } catch (error) {
          expect(error).toBeInstanceOf(RequestValidationError);
          expect(codes.has((error as RequestValidationError).code)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('validateClientResponse', () => {
  it('accepts results and wire errors, including the connection-level id', () => {
    expect(validateClientResponse({ id: 3, ok: true, result: { revision: 9 } })).toEqual({ id: 3, ok: true, result: { revision: 9 } });
    const wire = new KeelError('NOT_LEADER', 'ask node 2', { leaderId: 2, leaderAddress: 'h:1' }).toWire();
    expect(validateClientResponse({ id: NO_REQUEST_ID, ok: false, error: wire })).toEqual({ id: -1, ok: false, error: wire });
  });

  it('routes watch event frames and COMPACTED errors with their oldest revision', () => {
    const frame = { id: 4, watch: { events: [], revision: 12 } };
    expect(validateServerFrame(frame)).toEqual(frame);
    expect(() => validateServerFrame({ id: 4, watch: { revision: 12 } })).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    expect(() => validateServerFrame({ id: -1, watch: { events: [], revision: 1 } })).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    const compacted = new KeelError('COMPACTED', 'gone', { compactRevision: 7 }).toWire();
    const checked = validateServerFrame({ id: 4, ok: false, error: compacted });
    expect(checked).toEqual({ id: 4, ok: false, error: compacted });
    expect(KeelError.fromWire(compacted).compactRevision).toBe(7);
  });

  it('rejects broken envelopes as MALFORMED_FRAME', () => {
    for (const bad of [null, [], { id: 'x', ok: true, result: 1 }, { id: 1, ok: 'yes' }, { id: 1, ok: true }, { id: 1, ok: false, error: { code: 'NOPE', message: '', definite: true } }, { id: 1, ok: false, error: { code: 'TIMEOUT', message: 'm' } }]) {
      expect(() => validateClientResponse(bad)).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    }
  });
});
