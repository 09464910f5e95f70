/**
 * The throwaway certificates of `pnpm cluster --tls` and the TLS tests, made with Node alone:
 * OpenSSL (through Node's X509Certificate) reads them, each is signed by its CA, names
 * 127.0.0.1/::1/localhost, and carries the validity asked for.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../src/tls/certificates.js';

describe('throwaway certificates', () => {
  it('a CA signs certificates for the loopback addresses that verify against it and not against another CA', () => {
    const ca = createCa('test CA');
    const caCert = new X509Certificate(ca.cert);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=test CA');
    const leaf = new X509Certificate(issueCertificate(ca, { commonName: 'node' }).cert);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe('CN=node');
    expect(leaf.issuer).toBe('CN=test CA');
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost');
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const other = new X509Certificate(createCa('other CA').cert);
    expect(leaf.verify(other.publicKey)).toBe(false);
  });

  it('carries the validity asked for, so that a test can make an expired certificate', () => {
    const notBefore = new Date('2020-01-02T03:04:05Z');
    const notAfter = new Date('2051-06-07T08:09:10Z'); // past 2049: GeneralizedTime
    const cert = new X509Certificate(issueCertificate(createCa('ca'), { commonName: 'x', notBefore, notAfter, altNames: ['example.test'] }).cert);
    expect(new Date(cert.validFrom).toISOString()).toBe('2020-01-02T03:04:05.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2051-06-07T08:09:10.000Z');
    expect(cert.subjectAltName).toBe('DNS:example.test');
  });
});
