#!/usr/bin/env node
// The `lifeboat` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main/cli/lifeboat.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('lifeboat: not built yet; run `npm install` (or `npm run build`) in the project folder');
  process.exit(1);
}
await import(entry.href);
