/**
 * Reloading certificates when their files change (`--tls-watch-ms`), beside SIGHUP: every file of
 * every TLS side is polled (`fs.watchFile`, which also sees a file replaced by a rename, the usual
 * way certificates are rotated) and, once no file has changed for one more interval (a
 * certificate and its key are seldom written at the same instant), `reload` runs. A reload from
 * files that do not fit together yet fails, is logged, and keeps the old certificates; the next
 * change tries again.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { TlsCredentials } from './credentials.js';

/** Watches the files of `sides`; returns the function that stops watching. */
export function watchTlsFiles(sides: readonly TlsCredentials[], intervalMs: number, reload: () => void): () => void {
  const paths = [...new Set(sides.flatMap((s) => [s.paths.cert, s.paths.key, ...(s.paths.ca !== undefined ? [s.paths.ca] : [])]))];
  let settle: NodeJS.Timeout | undefined;
  const changed = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    clearTimeout(settle);
    settle = setTimeout(reload, intervalMs);
    settle.unref();
  };
  for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, changed);
  return () => {
    clearTimeout(settle);
    for (const path of paths) unwatchFile(path, changed);
  };
}
