/**
 * TLS failures in words a person can act on, shared by the server (peer links) and the client:
 * one place decides which socket errors are TLS failures and what each one means.
 */

/**
 * The first byte of a TLS record carrying a handshake (a ClientHello). No Keel frame starts with
 * it: its length would be at least 0x16000000 bytes, far above any frame limit. A plaintext port
 * seeing it knows a TLS client reached it.
 */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Certificate verification results (OpenSSL's names, as Node reports them in `error.code`). */
const UNTRUSTED: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

const NOT_TLS: ReadonlySet<string> = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'ERR_SSL_HTTP_REQUEST',
]);

/**
 * What a TLS failure means, or `undefined` when `error` is not one. Covers both sides: the
 * certificate this end received (`CERT_HAS_EXPIRED`, …), the alert the other end sent about ours
 * (`ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`, …), and bytes that are not TLS at all.
 */
export function describeTlsFailure(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  // OpenSSL's own errors carry a short `reason`; their message is a multi-line dump.
  const reason = (error as { reason?: unknown }).reason;
  const message = typeof reason === 'string' ? reason : error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error);
  if (NOT_TLS.has(code)) return `the other end does not speak TLS: a plaintext port? (${message})`;
  if (code === 'CERT_HAS_EXPIRED') return `its certificate has expired (${message})`;
  if (code === 'CERT_NOT_YET_VALID') return `its certificate is not valid yet (${message})`;
  if (UNTRUSTED.has(code)) return `its certificate is not signed by a trusted CA (${message})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its certificate is not for this host name or address (${message})`;
  if (/CERTIFICATE_REQUIRED|PEER_DID_NOT_RETURN_A_CERTIFICATE/.test(code)) {
    return `a client certificate is required and none was presented (${message})`;
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR)/.test(code)) {
    return `the other end does not accept this end's certificate (${message})`;
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return message;
  return undefined;
}
