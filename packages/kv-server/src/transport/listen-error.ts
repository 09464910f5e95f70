/**
 * A listener (the peer port, the client port or the admin listener) could not be opened: which one, where, and why,
 * in words a person can act on. `code` is the system's (EADDRINUSE, EACCES, EADDRNOTAVAIL, …).
 */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  readonly code: string | undefined;

  constructor(
    readonly listener: 'peers' | 'clients' | 'admin requests',
    readonly address: string,
    cause: Error,
  ) {
    const code = (cause as NodeJS.ErrnoException).code;
    super(`cannot listen for ${listener} on ${address}: ${reason(code, cause)}`, { cause });
    this.code = code;
  }
}

function reason(code: string | undefined, cause: Error): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'address already in use (EADDRINUSE); another process listens there';
    case 'EACCES':
      return 'permission denied (EACCES); ports below 1024 need privileges';
    case 'EADDRNOTAVAIL':
      return 'address not available (EADDRNOTAVAIL); no interface of this machine has it';
    default:
      return cause.message;
  }
}

/** "host:port", with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
