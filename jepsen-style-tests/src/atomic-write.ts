import { rename, writeFile } from 'node:fs/promises';

/** Writes a file so that readers see the old content or the new, never half of it. */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
