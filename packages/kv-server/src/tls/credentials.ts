/**
 * One side's TLS credentials (certificate, key, and the CA that signs the other ends'), read from
 * PEM files, checked once, and reloadable: `reload()` reads the files again and tells the
 * listeners, so that new connections use the new certificates while open ones keep theirs.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/** Where one side's PEM files are. */
export interface TlsFilePaths {
  readonly cert: string;
  readonly key: string;
  /** The CA the other ends' certificates must be signed by. */
  readonly ca?: string;
}

/** Files that cannot be used: unreadable, not PEM, or a key that does not belong to the certificate. */
export class TlsFilesError extends Error {
  override readonly name = 'TlsFilesError';
}

export class TlsCredentials {
  private current: tls.SecureContextOptions;
  private context: tls.SecureContext;
  private readonly listeners = new Set<() => void>();

  /** Reads and checks the files; throws `TlsFilesError` naming the flag and file at fault. */
  constructor(
    /** Which flags these are, for messages: "--peer" or "--client". */
    readonly flagPrefix: string,
    readonly paths: TlsFilePaths,
  ) {
    this.current = readFiles(flagPrefix, paths);
    this.context = secureContext(flagPrefix, paths, this.current);
  }

  /** The options for `tls.createServer` / `setSecureContext` (cert, key, ca). */
  get options(): tls.SecureContextOptions {
    return this.current;
  }

  /** The context for outgoing connections. */
  get secureContext(): tls.SecureContext {
    return this.context;
  }

  /** Calls `listener` after every successful reload. */
  onReload(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** Reads the files again. On failure throws `TlsFilesError` and keeps the credentials it had. */
  reload(): void {
    const options = readFiles(this.flagPrefix, this.paths);
    const context = secureContext(this.flagPrefix, this.paths, options);
    this.current = options;
    this.context = context;
    for (const listener of this.listeners) listener();
  }
}

function readFiles(prefix: string, paths: TlsFilePaths): tls.SecureContextOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new TlsFilesError(`${prefix}-${what}: cannot read ${path} (${code ?? (error as Error).message})`);
    }
  };
  return { cert: read('cert', paths.cert), key: read('key', paths.key), ...(paths.ca !== undefined ? { ca: read('ca', paths.ca) } : {}) };
}

/** Builds the context, which checks that the files are PEM and that the key belongs to the certificate. */
function secureContext(prefix: string, paths: TlsFilePaths, options: tls.SecureContextOptions): tls.SecureContext {
  try {
    return tls.createSecureContext(options);
  } catch (error) {
    const files = [paths.cert, paths.key, ...(paths.ca !== undefined ? [paths.ca] : [])].join(', ');
    throw new TlsFilesError(`${prefix}-cert/-key${paths.ca !== undefined ? '/-ca' : ''}: ${files} cannot be used: ${(error as Error).message}`);
  }
}
