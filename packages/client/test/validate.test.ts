import { describe, expect, it } from 'vitest';
import { KeelError, LIMITS } from '@keel/protocol';
import { KeelClient } from '@keel/client';
import { checkCasCondition, checkDeleteRange, checkKey, checkScanRange, checkValue, parseAddress } from '../src/validate.js';

function keelCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof KeelError) return error.code;
    throw error;
  }
  return undefined;
}

describe('delete ranges', () => {
  const b = (s: string): Uint8Array => new TextEncoder().encode(s);
  it('turn a prefix into [prefix, successor), and take an empty start as the first key', () => {
    expect(checkDeleteRange({ prefix: 'user/' })).toEqual({ start: b('user/'), end: b('user0') });
    expect(checkDeleteRange({ prefix: new Uint8Array([0x61, 0xff]) })).toEqual({ start: new Uint8Array([0x61, 0xff]), end: b('b') });
    expect(checkDeleteRange({ prefix: new Uint8Array([0xff]) })).toEqual({ start: new Uint8Array([0xff]) });
    expect(checkDeleteRange({ prefix: '' })).toEqual({ start: new Uint8Array(0) });
    expect(checkDeleteRange({ start: 'a', end: 'm' })).toEqual({ start: b('a'), end: b('m') });
    expect(checkDeleteRange({ start: '' })).toEqual({ start: new Uint8Array(0) });
  });

  it('leave a Buffer prefix as it was (regression: its successor was computed in place)', () => {
    const prefix = Buffer.from('user/');
    const { start, end } = checkDeleteRange({ prefix });
    expect([Buffer.from(start).toString(), Buffer.from(end!).toString()]).toEqual(['user/', 'user0']);
    expect(prefix.toString()).toBe('user/');
  });

  it('never read an empty object as "everything", and check bounds', () => {
    expect(() => checkDeleteRange({})).toThrow(TypeError);
    expect(() => checkDeleteRange({ end: 'm' })).toThrow(TypeError);
    expect(() => checkDeleteRange({ prefix: 'a', start: 'b' })).toThrow(TypeError);
    expect(keelCode(() => checkDeleteRange({ start: 'a', end: '' }))).toBe('INVALID_ARGUMENT');
    expect(keelCode(() => checkDeleteRange({ start: 'k'.repeat(LIMITS.keyBytesMax + 1) }))).toBe('TOO_LARGE');
  });
});

describe('boundary validation', () => {
  it('wrong types are TypeErrors', () => {
    expect(() => checkKey(42)).toThrow(TypeError);
    expect(() => checkValue({})).toThrow(TypeError);
    expect(() => checkCasCondition({})).toThrow(TypeError);
    expect(() => checkCasCondition({ expectValue: 'a', expectAbsent: true })).toThrow(TypeError);
    expect(() => checkScanRange({ prefix: 'a', start: 'b' })).toThrow(TypeError);
  });

  it('limits are KeelErrors with INVALID_ARGUMENT or TOO_LARGE', () => {
    expect(keelCode(() => checkKey(''))).toBe('INVALID_ARGUMENT');
    expect(keelCode(() => checkKey('k'.repeat(LIMITS.keyBytesMax + 1)))).toBe('TOO_LARGE');
    expect(keelCode(() => checkKey('k'.repeat(LIMITS.keyBytesMax)))).toBeUndefined();
    expect(keelCode(() => checkValue(new Uint8Array(LIMITS.valueBytesMax + 1)))).toBe('TOO_LARGE');
    expect(keelCode(() => checkCasCondition({ expectRevision: -1 }))).toBe('INVALID_ARGUMENT');
    expect(keelCode(() => checkCasCondition({ expectRevision: 1.5 }))).toBe('INVALID_ARGUMENT');
  });

  it('strings are sent as UTF-8; bytes as they are', () => {
    expect([...checkKey('é')]).toEqual([0xc3, 0xa9]);
    const bytes = new Uint8Array([0, 255]);
    expect(checkValue(bytes)).toBe(bytes);
  });

  it('translates CAS conditions and scan ranges to the wire form', () => {
    expect(checkCasCondition({ expectAbsent: true })).toEqual({ absent: true });
    expect(checkCasCondition({ expectRevision: 7 })).toEqual({ revision: 7 });
    expect(checkScanRange({ prefix: '' })).toEqual({}); // empty prefix = whole key space
    expect(Object.keys(checkScanRange({ start: 'a', end: 'b' }))).toEqual(['start', 'end']);
  });

  it('parses host:port addresses, IPv6 in brackets', () => {
    expect(parseAddress('127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(parseAddress('[::1]:7001')).toEqual({ host: '::1', port: 7001 });
    expect(parseAddress('localhost')).toBeUndefined();
    expect(parseAddress('h:0')).toBeUndefined();
    expect(parseAddress('h:70000')).toBeUndefined();
  });

  it('the client rejects bad arguments before sending anything', async () => {
    // Port 1 is never listened on: if validation let anything through, the error would be UNAVAILABLE.
    const client = new KeelClient({ endpoints: ['127.0.0.1:1'], timeoutMs: 200 });
    try {
      await expect(client.put(5 as unknown as string, 'v')).rejects.toThrow(TypeError);
      await expect(client.put('k', 'v'.repeat(LIMITS.valueBytesMax + 1))).rejects.toMatchObject({ code: 'TOO_LARGE' });
      await expect(client.get('k', { consistency: 'eventual' as 'linearizable' })).rejects.toThrow(TypeError);
      await expect(client.scan({ prefix: 'a' }, { limit: LIMITS.scanLimitMax + 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.memberRemove(0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.memberAdd({ id: 4, peerAddress: 'nope', clientAddress: '127.0.0.1:9' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    } finally {
      await client.close();
    }
    expect(() => new KeelClient({ endpoints: [] })).toThrow(KeelError);
    expect(() => new KeelClient({ endpoints: 'a:1' as unknown as string[] })).toThrow(TypeError);
  });
});
