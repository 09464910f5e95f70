/**
 * Throwaway certificates for `pnpm cluster --tls` and the TLS tests, made with Node's crypto alone
 * (no openssl needed): a CA, and certificates it signs for 127.0.0.1/localhost, valid for both TLS
 * server and client use. P-256 keys, ECDSA with SHA-256 signatures. Any validity period can be
 * asked for, so a test can make an expired certificate. Not for production: the keys are written
 * unencrypted and nothing is revocable.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  booleanTrue,
  element,
  explicit,
  implicit,
  integer,
  octetString,
  oid,
  sequence,
  set,
  time,
  unsignedInteger,
  utf8String,
} from './der.js';

/** A certificate and its private key, both PEM. */
export interface CertificateAndKey {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateAuthority extends CertificateAndKey {
  readonly commonName: string;
}

export interface Validity {
  /** Default: one hour ago (clocks differ a little). */
  readonly notBefore?: Date;
  /** Default: 30 days after now. */
  readonly notAfter?: Date;
}

export interface LeafOptions extends Validity {
  readonly commonName: string;
  /** subjectAltName entries: IP addresses and DNS names. Default 127.0.0.1, ::1 and localhost. */
  readonly altNames?: readonly string[];
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const DEFAULT_ALT_NAMES = ['127.0.0.1', '::1', 'localhost'];

/** A new self-signed CA. */
export function createCa(commonName: string, validity: Validity = {}): CertificateAuthority {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyId = keyIdentifier(publicKey);
  const cert = certificate({
    subject: commonName,
    issuer: commonName,
    publicKey,
    signer: privateKey,
    validity,
    extensions: [
      extension(OID.basicConstraints, sequence(booleanTrue()), true),
      extension(OID.keyUsage, keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']), true),
      extension(OID.subjectKeyIdentifier, octetString(keyId)),
    ],
  });
  return { commonName, cert, key: pemKey(privateKey) };
}

/** A certificate signed by `ca`, for TLS servers and clients alike. */
export function issueCertificate(ca: CertificateAuthority, options: LeafOptions): CertificateAndKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caKey = createPrivateKey(ca.key);
  const cert = certificate({
    subject: options.commonName,
    issuer: ca.commonName,
    publicKey,
    signer: caKey,
    validity: options,
    extensions: [
      extension(OID.basicConstraints, sequence(), true),
      extension(OID.keyUsage, keyUsage(['digitalSignature']), true),
      extension(OID.extKeyUsage, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
      extension(OID.subjectAltName, sequence(...(options.altNames ?? DEFAULT_ALT_NAMES).map(generalName))),
      extension(OID.subjectKeyIdentifier, octetString(keyIdentifier(publicKey))),
      extension(OID.authorityKeyIdentifier, sequence(implicit(0, keyIdentifier(caKey)))),
    ],
  });
  return { cert, key: pemKey(privateKey) };
}

interface CertificateFields {
  readonly subject: string;
  readonly issuer: string;
  readonly publicKey: KeyObject;
  readonly signer: KeyObject;
  readonly validity: Validity;
  readonly extensions: readonly Buffer[];
}

function certificate(f: CertificateFields): string {
  const now = Date.now();
  const notBefore = f.validity.notBefore ?? new Date(now - 3_600_000);
  const notAfter = f.validity.notAfter ?? new Date(now + 30 * 86_400_000);
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    unsignedInteger(serial),
    algorithm,
    name(f.issuer),
    sequence(time(notBefore), time(notAfter)),
    name(f.subject),
    f.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...f.extensions)),
  );
  const signature = sign('sha256', tbs, f.signer); // DER-encoded ECDSA signature, as X.509 wants
  const der = sequence(tbs, algorithm, bitString(signature));
  return pem('CERTIFICATE', der);
}

function name(commonName: string): Buffer {
  return sequence(set(sequence(oid(OID.commonName), utf8String(commonName))));
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return critical ? sequence(oid(id), booleanTrue(), octetString(value)) : sequence(oid(id), octetString(value));
}

const KEY_USAGE_BITS = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** The KeyUsage BIT STRING, trailing zero bits left out as DER requires. */
function keyUsage(uses: ReadonlyArray<keyof typeof KEY_USAGE_BITS>): Buffer {
  let byte = 0;
  let last = 0;
  for (const use of uses) {
    const bit = KEY_USAGE_BITS[use];
    byte |= 0x80 >> bit;
    last = Math.max(last, bit);
  }
  return element(0x03, Buffer.from([7 - last, byte]));
}

/** An IP address ([7] OCTET STRING) or a DNS name ([2] IA5String). */
function generalName(text: string): Buffer {
  const family = isIP(text);
  if (family === 4) return implicit(7, Buffer.from(text.split('.').map(Number)));
  if (family === 6) return implicit(7, ipv6Bytes(text));
  return implicit(2, Buffer.from(text, 'ascii'));
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The SHA-1 of the public key's bits, as RFC 5280 §4.2.1.2 suggests. */
function keyIdentifier(key: KeyObject): Buffer {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki).digest();
}

function pemKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
