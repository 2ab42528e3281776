#!/usr/bin/env node
// Compiles (or, with --noEmit, type-checks) the Electron shell, main/electron/, against the `electron`
// package's own types. `electron` is an optional dependency: where its binary cannot be downloaded, npm
// leaves the package out and carries on, and this step says so instead of failing the install. CI installs
// it with ELECTRON_SKIP_BINARY_DOWNLOAD=1 (types without the binary), so the shell is always checked there.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(root, 'package.json'));
try {
  require.resolve('electron/package.json');
} catch {
  process.stderr.write(
    'tsc-electron: main/electron/ not compiled: the electron package is not installed (npm drops it when its binary ' +
      'cannot be downloaded); run `ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm install` to get its types\n',
  );
  process.exit(0);
}
const tsc = require.resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.electron.json'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
