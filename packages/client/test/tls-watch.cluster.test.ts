/**
 * Issue 14: with --tls-watch-ms a node reloads its certificates when their files change, without
 * a signal; files that do not fit together yet (a certificate written before its key) are logged
 * and the node keeps what it had until they do.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { KeelClient, KeelError } from '@keel/client';
import { Cluster, createCa, issueCertificate } from '@keel/test-support';

let cluster: Cluster | undefined;
const clients: KeelClient[] = [];

afterAll(async () => {
  for (const c of clients) await c.close();
  await cluster?.destroy();
});

it('reloads the certificates when their files change', async () => {
  cluster = await Cluster.start({ nodes: 1, tls: { requireClientCerts: false }, serverArgs: ['--tls-watch-ms', '100'] });
  const node = cluster.node(1);
  const files = cluster.tls!;
  const status = async (ca: string): Promise<unknown> => {
    const c = new KeelClient({ endpoints: [node.clientAddress], timeoutMs: 5000, tls: { ca } });
    clients.push(c);
    const [answer] = await c.status();
    if (answer === undefined || !answer.ok) throw answer?.error ?? new Error('no answer');
    return answer.status;
  };
  const oldCa = readFileSync(files.ca, 'utf8');
  expect(await status(oldCa)).toMatchObject({ id: 1 });

  const newCa = createCa('the rotated CA');
  const renewed = issueCertificate(newCa, { commonName: 'keel-server, rotated' });
  // The certificate first: it does not fit the old key, so that reload fails and changes nothing.
  writeFileSync(files.serverCert, renewed.cert);
  const failed = await node.waitForLog((l) => l.event === 'tls.reload.failed' && l['cause'] === 'file-watch');
  expect(String(failed['error'])).toContain('--client-cert/-key');
  expect(await status(oldCa)).toMatchObject({ id: 1 });
  writeFileSync(files.serverKey, renewed.key);
  await node.waitForLog((l) => l.event === 'tls.reloaded' && l['flags'] === '--client' && l['cause'] === 'file-watch');
  expect(await status(newCa.cert)).toMatchObject({ id: 1 });
  const refused = await status(oldCa).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(KeelError);
  expect((refused as KeelError).code).toBe('TLS_FAILED');
});
