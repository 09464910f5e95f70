#!/usr/bin/env -S node --initial-old-space-size=256
import { existsSync } from 'node:fs';
const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('keel-server: not built yet; run `npx --yes pnpm@10 build` first\n');
  process.exit(2);
}
await import(entry.href);
