/**
 * The TLS files of a harness cluster, written to a directory: one throwaway CA that signs every
 * certificate, one certificate for the peer links (each node presents it), one for the client
 * ports, and one for clients. `serverArgs` and `kvctlArgs` give the flags that use them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCertificate, type CertificateAuthority } from './certificates.js';

export interface ClusterTls {
  readonly dir: string;
  readonly ca: string;
  readonly peerCert: string;
  readonly peerKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}


const CA_NAME = 'Keel throwaway CA';

/** Writes a new CA (its key too, to sign more certificates in tests) and the three certificates to `dir`. */
export function writeClusterTls(dir: string): ClusterTls {
  const ca = createCa(CA_NAME);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const peer = issueCertificate(ca, { commonName: 'keel-peer' });
  const server = issueCertificate(ca, { commonName: 'keel-server' });
  const client = issueCertificate(ca, { commonName: 'keel-client' });
  write('ca.key', ca.key);
  return {
    dir,
    ca: write('ca.pem', ca.cert),
    peerCert: write('peer.pem', peer.cert),
    peerKey: write('peer.key', peer.key),
    serverCert: write('server.pem', server.cert),
    serverKey: write('server.key', server.key),
    clientCert: write('client.pem', client.cert),
    clientKey: write('client.key', client.key),
  };
}

/** The CA of `files`, to sign more certificates with (an expired one, a renewed one). */
export function clusterCa(files: ClusterTls): CertificateAuthority {
  return { commonName: CA_NAME, cert: readFileSync(files.ca, 'utf8'), key: readFileSync(join(files.dir, 'ca.key'), 'utf8') };
}

/** keel-server flags for mutual TLS between peers and TLS on the client port (client certificates required unless told). */
export function serverTlsArgs(files: ClusterTls, options: { readonly requireClientCerts?: boolean } = {}): string[] {
  return [
    ...['--peer-cert', files.peerCert, '--peer-key', files.peerKey, '--peer-ca', files.ca],
    ...['--client-cert', files.serverCert, '--client-key', files.serverKey],
    ...(options.requireClientCerts === false ? [] : ['--client-ca', files.ca]),
  ];
}

/** kvctl flags for a cluster run with `serverTlsArgs`. */
export function kvctlTlsArgs(files: ClusterTls): string[] {
  return ['--cacert', files.ca, '--cert', files.clientCert, '--key', files.clientKey];
}
