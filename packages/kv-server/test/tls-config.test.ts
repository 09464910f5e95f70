/**
 * Issue 14 item 1: TLS set up by halves is a configuration error: exit status 2 and one line on
 * stderr naming the flag and file at fault, before the node opens anything.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, freePorts, issueCertificate, runServer, writeClusterTls, type ClusterTls } from '@keel/test-support';

let dir: string;
let files: ClusterTls;
let member: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keel-tls-config-'));
  files = writeClusterTls(join(dir, 'tls'));
  const [peerPort, clientPort] = await freePorts(2);
  member = ['--id', '1', '--data-dir', join(dir, 'data'), '--initial-cluster', `1=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(args: readonly string[]): Promise<string> {
  const r = await runServer([...member, ...args]);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(r.code, r.stderr + r.stdout).toBe(2);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^keel-server: configuration error: /);
  return lines[0]!;
}

describe('half-configured TLS', () => {
  it('a peer certificate without its key, or without the CA, is refused', async () => {
    expect(await refused(['--peer-cert', files.peerCert, '--peer-ca', files.ca])).toContain('--peer-cert and --peer-ca given without --peer-key');
    expect(await refused(['--peer-cert', files.peerCert, '--peer-key', files.peerKey])).toContain(
      '--peer-cert, --peer-key and --peer-ca go together: --peer-cert and --peer-key given without --peer-ca',
    );
  });

  it('a client key without its certificate, or a client CA alone, is refused', async () => {
    expect(await refused(['--client-key', files.serverKey])).toContain('--client-cert and --client-key go together: --client-key given without --client-cert');
    expect(await refused(['--client-ca', files.ca])).toContain('--client-ca given without --client-cert and --client-key');
  });

  it('a missing or unreadable file is named', async () => {
    const missing = join(dir, 'nope.pem');
    expect(await refused(['--client-cert', missing, '--client-key', files.serverKey])).toBe(
      `keel-server: configuration error: --client-cert: cannot read ${missing} (ENOENT)`,
    );
    const unreadable = join(dir, 'unreadable.key');
    writeFileSync(unreadable, 'x');
    chmodSync(unreadable, 0o000);
    // root reads any file: then the content is what is wrong, and that is refused too.
    expect(await refused(['--peer-cert', files.peerCert, '--peer-key', unreadable, '--peer-ca', files.ca])).toMatch(
      /--peer-key: cannot read .*unreadable\.key \(EACCES\)|--peer-cert\/-key\/-ca: .* cannot be used/,
    );
  });

  it('a key that does not belong to the certificate, or a file that is not PEM, is refused', async () => {
    const other = issueCertificate(createCa('another CA'), { commonName: 'other' });
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, other.key);
    expect(await refused(['--client-cert', files.serverCert, '--client-key', otherKey])).toMatch(
      /--client-cert\/-key: .*server\.pem, .*other\.key cannot be used: .*key values mismatch/,
    );
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    expect(await refused(['--client-cert', garbage, '--client-key', files.serverKey])).toContain('cannot be used');
  });
});
