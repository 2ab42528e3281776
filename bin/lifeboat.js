#!/usr/bin/env node
// The `lifeboat` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { existsSync } from 'node:fs';

// Scans and restores issue many small file-system calls at once; libuv's default pool of 4 threads
// would serialise them. This must be set before the pool starts, i.e. before anything else loads.
process.env.UV_THREADPOOL_SIZE ??= '16';

const entry = new URL('../dist/main/cli/lifeboat.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('lifeboat: not built yet; run `npm install` (or `npm run build`) in the project folder');
  process.exit(1);
}
await import(entry.href);
