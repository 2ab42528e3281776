// The layer check: who may import what.
//
//   shared/    runs anywhere: imports nothing outside shared/ (no node:*, no npm packages)
//   main/      the Node side: may import main/, shared/, workers/, node built-ins, npm packages
//   main/electron/ is the only place that may import `electron`
//   renderer/  imports only renderer/, shared/ and react / react-dom
//   workers/   imports workers/, shared/, node built-ins and npm packages; never main/ or renderer/
//   nobody outside renderer/ imports renderer/
//
// Specifiers are read from the TypeScript syntax tree (so comments and strings
// that merely look like imports are ignored), covering static imports,
// `export ... from`, side-effect imports, `import type`, `import x = require()`,
// dynamic `import()`, `require()`, `import('x').T` types and
// `/// <reference path|types>` directives. A dynamic import or require whose
// argument is not a string literal cannot be resolved: it is reported in
// shared/ and renderer/, where nothing computed is legitimate, and tolerated in
// main/ and workers/, which load native addons by computed path
// (`createRequire(import.meta.url)(file)`); those two layers' remaining risk is
// that a computed path reaches main/ or renderer/, which this check cannot see.
//
// The checker is exported and self-tested against synthetic sources that break
// each rule, so the project-wide assertion cannot pass vacuously.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** The top-level folders whose imports are checked. */
export const LAYERS = ['shared', 'main', 'workers', 'renderer'] as const;
export type Layer = (typeof LAYERS)[number];

/** Rule texts, as they appear in violation reports. */
export const RULES = {
  electron: 'only main/electron/ may import electron',
  intoRenderer: 'nothing outside renderer/ imports renderer/',
  shared: 'shared/ imports nothing outside shared/: no node built-ins, no npm packages, no other folders',
  main: 'main/ imports only main/, shared/, workers/, node built-ins and npm packages',
  workers: 'workers/ imports only workers/, shared/, node built-ins and npm packages, never main/ or renderer/',
  renderer: 'renderer/ imports only renderer/, shared/ and react',
  computed: 'shared/ and renderer/ import only through string-literal specifiers, so the layering can be checked',
  uncheckable: 'import specifiers are relative paths, node built-ins or package names (no absolute paths, URLs or #imports)',
} as const;

const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs'];
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', 'build']);
const RENDERER_PACKAGES = new Set(['react', 'react-dom']);

/** A source file to check; `path` is relative to the project root, with `/` separators. */
export interface SourceFile {
  readonly path: string;
  readonly source: string;
}

/** One import found in a source file. `specifier` is null when it is not a string literal. */
export interface ImportReference {
  readonly specifier: string | null;
  /** The text shown in reports (the specifier, or the non-literal expression). */
  readonly text: string;
  readonly kind: 'import' | 'export' | 'import-equals' | 'dynamic' | 'require' | 'import-type' | 'reference-path' | 'reference-types';
}

type Target =
  | { readonly kind: 'builtin' }
  | { readonly kind: 'package'; readonly name: string }
  | { readonly kind: 'local'; readonly folder: string; readonly path: string }
  | { readonly kind: 'computed' }
  | { readonly kind: 'uncheckable' };

/** Every import-like reference in `source` (which is parsed as TS/JS according to `path`'s extension). */
export function extractImports(path: string, source: string): ImportReference[] {
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true, scriptKind(path));
  const found: ImportReference[] = [];

  const fromExpression = (expression: ts.Expression | undefined, kind: ImportReference['kind']): void => {
    if (expression !== undefined && (ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression))) {
      found.push({ specifier: expression.text, text: expression.text, kind });
    } else {
      const text = expression === undefined ? '<nothing>' : `<non-literal: ${expression.getText(file)}>`;
      found.push({ specifier: null, text, kind });
    }
  };

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      fromExpression(node.moduleSpecifier, 'import');
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      fromExpression(node.moduleSpecifier, 'export');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      fromExpression(node.moduleReference.expression, 'import-equals');
    } else if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        fromExpression(node.arguments[0], 'dynamic');
      } else if (ts.isIdentifier(node.expression) && node.expression.text === 'require' && node.arguments.length > 0) {
        fromExpression(node.arguments[0], 'require');
      }
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal)) {
        found.push({ specifier: argument.literal.text, text: argument.literal.text, kind: 'import-type' });
      } else {
        found.push({ specifier: null, text: `<non-literal: ${argument.getText(file)}>`, kind: 'import-type' });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);

  for (const reference of file.referencedFiles) {
    found.push({ specifier: reference.fileName, text: reference.fileName, kind: 'reference-path' });
  }
  for (const reference of file.typeReferenceDirectives) {
    found.push({ specifier: reference.fileName, text: `types="${reference.fileName}"`, kind: 'reference-types' });
  }
  return found;
}

/** The layer a project-relative path belongs to, or undefined for other folders. */
export function layerOf(path: string): Layer | undefined {
  const top = path.split('/')[0];
  return (LAYERS as readonly string[]).includes(top ?? '') ? (top as Layer) : undefined;
}

function classify(fromPath: string, reference: ImportReference): Target {
  const specifier = reference.specifier;
  if (specifier === null) return { kind: 'computed' };
  if (specifier === '') return { kind: 'uncheckable' };
  if (reference.kind === 'reference-types') {
    return specifier === 'node' ? { kind: 'builtin' } : { kind: 'package', name: specifier };
  }
  const relative =
    reference.kind === 'reference-path' || specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
  if (relative) {
    const resolved = posix.normalize(posix.join(posix.dirname(fromPath), specifier));
    const folder = resolved === '..' || resolved.startsWith('../') ? '(outside the project)' : (resolved.split('/')[0] ?? '');
    return { kind: 'local', folder, path: resolved };
  }
  if (specifier.startsWith('node:') || isBuiltin(specifier)) return { kind: 'builtin' };
  // Absolute paths, URLs (file:, data:, https:) and package.json "#imports" are not checkable here.
  if (specifier.startsWith('/') || specifier.startsWith('#') || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(specifier)) {
    return { kind: 'uncheckable' };
  }
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
  return { kind: 'package', name };
}

/** The rule `reference` (made from the file at `fromPath`) breaks, or undefined if it is allowed. */
function brokenRule(fromPath: string, layer: Layer, target: Target): string | undefined {
  if (target.kind === 'computed') return layer === 'shared' || layer === 'renderer' ? RULES.computed : undefined;
  if (target.kind === 'uncheckable') return RULES.uncheckable;
  if (target.kind === 'package' && target.name === 'electron' && !fromPath.startsWith('main/electron/')) return RULES.electron;
  if (target.kind === 'local' && target.folder === 'renderer' && layer !== 'renderer') return RULES.intoRenderer;

  const local = target.kind === 'local' ? target.folder : undefined;
  switch (layer) {
    case 'shared':
      return local === 'shared' ? undefined : RULES.shared;
    case 'main':
      if (target.kind === 'builtin' || target.kind === 'package') return undefined;
      return local === 'main' || local === 'shared' || local === 'workers' ? undefined : RULES.main;
    case 'workers':
      if (target.kind === 'builtin' || target.kind === 'package') return undefined;
      return local === 'workers' || local === 'shared' ? undefined : RULES.workers;
    case 'renderer':
      if (target.kind === 'package' && RENDERER_PACKAGES.has(target.name)) return undefined;
      return local === 'renderer' || local === 'shared' ? undefined : RULES.renderer;
  }
}

/**
 * Check the files' imports against the layer rules. Returns one line per
 * offending import, `file: imports X (rule)`; files outside the layers are
 * ignored.
 */
export function checkLayers(files: readonly SourceFile[]): string[] {
  const violations: string[] = [];
  for (const file of files) {
    const layer = layerOf(file.path);
    if (layer === undefined) continue;
    for (const reference of extractImports(file.path, file.source)) {
      const rule = brokenRule(file.path, layer, classify(file.path, reference));
      if (rule !== undefined) violations.push(`${file.path}: imports ${reference.text} (${rule})`);
    }
  }
  return violations;
}

/** Every checkable source file under the layer folders of `root` that exist. */
export function collectSourceFiles(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRECTORIES.has(entry.name)) walk(path);
      } else if (entry.isFile() && SOURCE_EXTENSIONS.some((extension) => entry.name.endsWith(extension))) {
        files.push({ path, source: readFileSync(join(root, path), 'utf8') });
      }
    }
  };
  for (const layer of LAYERS) {
    if (existsSync(join(root, layer))) walk(layer);
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

function scriptKind(path: string): ts.ScriptKind {
  if (path.endsWith('.tsx')) return ts.ScriptKind.TSX;
  if (path.endsWith('.jsx')) return ts.ScriptKind.JSX;
  if (/\.[mc]?js$/.test(path)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

// ---------------------------------------------------------------------------

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

describe('project layers', () => {
  it('every import in shared/, main/, workers/ and renderer/ follows the layer rules', () => {
    const files = collectSourceFiles(projectRoot);
    expect(files.length, 'the walk found source files to check').toBeGreaterThan(0);
    const violations = checkLayers(files);
    expect(violations, `layer violations:\n${violations.join('\n')}`).toEqual([]);
  });
});

describe('layer checker self-test', () => {
  it('extracts every kind of import specifier, and nothing from comments or strings', () => {
    const source = `
      /// <reference types="node" />
      /// <reference path="../other/globals.d.ts" />
      import a from 'static-default';
      import { b } from "static-named";
      import * as c from 'static-namespace';
      import type { D } from 'type-only';
      import 'side-effect';
      import e = require('import-equals');
      export { f } from 'export-named';
      export * from 'export-star';
      export * as g from 'export-namespace';
      const h = await import('dynamic');
      const i = await import(\`dynamic-template\`);
      const j = require('required');
      type K = typeof import('import-type');
      const l = await import(someVariable);
      const m = require(name + '.js');
      // import nope from 'in-a-line-comment';
      /* const nope = require('in-a-block-comment'); */
      const text = "import nope from 'in-a-string'";
      obj.require('not-the-require-function');
      export const n = 1;
    `;
    expect(extractImports('main/x.ts', source).map((r) => `${r.kind} ${r.text}`)).toEqual([
      'import static-default',
      'import static-named',
      'import static-namespace',
      'import type-only',
      'import side-effect',
      'import-equals import-equals',
      'export export-named',
      'export export-star',
      'export export-namespace',
      'dynamic dynamic',
      'dynamic dynamic-template',
      'require required',
      'import-type import-type',
      'dynamic <non-literal: someVariable>',
      "require <non-literal: name + '.js'>",
      'reference-path ../other/globals.d.ts',
      'reference-types types="node"',
    ]);
  });

  it('parses .tsx, .js and .mjs files too', () => {
    expect(extractImports('renderer/App.tsx', "import x from 'a';\nexport const A = () => <div>{x}</div>;").map((r) => r.text)).toEqual(['a']);
    expect(extractImports('workers/w.js', "const fs = require('fs');").map((r) => r.text)).toEqual(['fs']);
    expect(extractImports('workers/w.mjs', "import fs from 'node:fs';").map((r) => r.text)).toEqual(['node:fs']);
  });

  it('allows what the rules allow', () => {
    const allowed: SourceFile[] = [
      { path: 'shared/a.ts', source: "import { b } from './b.js'; import { c } from '../shared/sub/c.js'; export * from './d.js';" },
      { path: 'main/store/db.ts', source: "import Db from 'better-sqlite3'; import { x } from '../../shared/x.js'; import { w } from '../../workers/w.js'; import fs from 'node:fs'; import path from 'path'; import { y } from './y.js';" },
      { path: 'main/electron/app.ts', source: "import { app } from 'electron'; import { BrowserWindow } from 'electron/main'; import { s } from '../store/db.js';" },
      { path: 'workers/engine.ts', source: "import { createHash } from 'node:crypto'; import zstd from 'zstd-napi'; import { s } from '../shared/s.js'; const os = require('os'); import { p } from './engine/p.js';" },
      { path: 'renderer/App.tsx', source: "import React from 'react'; import { createRoot } from 'react-dom/client'; import { s } from '../shared/s.js'; import './app.css'; import { B } from './components/B.js';" },
      { path: 'workers/crypto/native.ts', source: "import { createRequire } from 'node:module'; const binding = createRequire(import.meta.url)(file); const m = await import(pathToAddon);" },
      { path: 'main/plugins.ts', source: 'const require = createRequire(import.meta.url); const p = require(pluginPath);' },
      { path: 'test/unit/anything.test.ts', source: "import { x } from '../../renderer/x.js'; import { app } from 'electron';" },
    ];
    expect(checkLayers(allowed)).toEqual([]);
  });

  // Each case breaks exactly one rule; the expected report line is asserted verbatim.
  const violations: [rule: keyof typeof RULES, file: SourceFile, specifier: string][] = [
    ['shared', { path: 'shared/a.ts', source: "import fs from 'node:fs';" }, 'node:fs'],
    ['shared', { path: 'shared/a.ts', source: "import { join } from 'path';" }, 'path'],
    ['shared', { path: 'shared/a.ts', source: "import 'fs/promises';" }, 'fs/promises'],
    ['shared', { path: 'shared/deep/a.ts', source: "import Db from 'better-sqlite3';" }, 'better-sqlite3'],
    ['shared', { path: 'shared/a.ts', source: "import { useState } from 'react';" }, 'react'],
    ['shared', { path: 'shared/a.ts', source: "export { x } from '../main/x.js';" }, '../main/x.js'],
    ['shared', { path: 'shared/a.ts', source: "const w = await import('../workers/w.js');" }, '../workers/w.js'],
    ['shared', { path: 'shared/a.ts', source: "const t = require('../test/t.js');" }, '../test/t.js'],
    ['shared', { path: 'shared/a.ts', source: "import type { Database } from 'better-sqlite3';" }, 'better-sqlite3'],
    ['shared', { path: 'shared/a.ts', source: '/// <reference types="node" />\nexport {};' }, 'types="node"'],
    ['electron', { path: 'main/store/a.ts', source: "import { app } from 'electron';" }, 'electron'],
    ['electron', { path: 'main/a.ts', source: "const { ipcMain } = require('electron/main');" }, 'electron/main'],
    ['electron', { path: 'workers/a.ts', source: "import 'electron';" }, 'electron'],
    ['electron', { path: 'renderer/a.tsx', source: "import { ipcRenderer } from 'electron';" }, 'electron'],
    ['electron', { path: 'shared/a.ts', source: "export * from 'electron';" }, 'electron'],
    ['intoRenderer', { path: 'main/electron/a.ts', source: "import { App } from '../../renderer/App.js';" }, '../../renderer/App.js'],
    ['intoRenderer', { path: 'workers/a.ts', source: "const r = await import('../renderer/r.js');" }, '../renderer/r.js'],
    ['intoRenderer', { path: 'shared/a.ts', source: "import '../renderer/r.js';" }, '../renderer/r.js'],
    ['workers', { path: 'workers/engine/a.ts', source: "import { pool } from '../../main/engine/pool.js';" }, '../../main/engine/pool.js'],
    ['workers', { path: 'workers/a.ts', source: "export * from '../scripts/bench.js';" }, '../scripts/bench.js'],
    ['main', { path: 'main/cli/a.ts', source: "import { helper } from '../../test/helpers.js';" }, '../../test/helpers.js'],
    ['main', { path: 'main/a.ts', source: "import x from '../../outside.js';" }, '../../outside.js'],
    ['renderer', { path: 'renderer/a.tsx', source: "import fs from 'node:fs';" }, 'node:fs'],
    ['renderer', { path: 'renderer/a.tsx', source: "import os from 'os';" }, 'os'],
    ['renderer', { path: 'renderer/views/a.tsx', source: "import { store } from '../../main/store/index.js';" }, '../../main/store/index.js'],
    ['renderer', { path: 'renderer/a.ts', source: "import { w } from '../workers/w.js';" }, '../workers/w.js'],
    ['renderer', { path: 'renderer/a.tsx', source: "import Db from 'better-sqlite3';" }, 'better-sqlite3'],
    ['computed', { path: 'shared/a.ts', source: 'const m = await import(moduleName);' }, '<non-literal: moduleName>'],
    ['computed', { path: 'renderer/a.js', source: "const m = require(`./${name}.js`);" }, '<non-literal: `./${name}.js`>'],
    ['uncheckable', { path: 'shared/a.ts', source: "import x from '#internal';" }, '#internal'],
    ['uncheckable', { path: 'main/a.ts', source: "import x from '/abs/path/x.js';" }, '/abs/path/x.js'],
    ['uncheckable', { path: 'workers/a.ts', source: "const x = await import('file:///tmp/x.js');" }, 'file:///tmp/x.js'],
  ];

  it.each(violations.map(([rule, file, specifier]) => [rule, file.path, specifier, file] as const))(
    'catches a %s violation: %s imports %s',
    (rule, path, specifier, file) => {
      expect(checkLayers([file])).toEqual([`${path}: imports ${specifier} (${RULES[rule]})`]);
    },
  );

  it('has a synthetic violation for every rule', () => {
    expect(new Set(violations.map(([rule]) => rule))).toEqual(new Set(Object.keys(RULES)));
  });

  it('reports every violation of a file, not just the first', () => {
    const file: SourceFile = {
      path: 'shared/a.ts',
      source: "import fs from 'fs';\nimport { app } from 'electron';\nimport { x } from './ok.js';\nimport { y } from '../main/y.js';",
    };
    expect(checkLayers([file])).toEqual([
      `shared/a.ts: imports fs (${RULES.shared})`,
      `shared/a.ts: imports electron (${RULES.electron})`,
      `shared/a.ts: imports ../main/y.js (${RULES.shared})`,
    ]);
  });

  it('walks a synthetic project: finds violations in every layer and extension, skips node_modules/dist/build and other folders', () => {
    const root = mkdtempSync(join(tmpdir(), 'lifeboat-layers-'));
    try {
      const write = (path: string, source: string): void => {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), source);
      };
      write('shared/deep/a.ts', "import fs from 'node:fs';");
      write('main/b.mjs', "import { App } from '../renderer/App.js';");
      write('workers/c.js', "const m = require('../main/m.js');");
      write('renderer/d.tsx', "import { app } from 'electron';");
      write('shared/ok.ts', "export * from './deep/a.js';");
      write('shared/notes.md', "import fs from 'node:fs';");
      write('shared/node_modules/pkg/index.js', "require('fs');");
      write('main/dist/out.js', "require('../../renderer/x.js');");
      write('renderer/build/bundle.js', "require('fs');");
      write('scripts/tool.ts', "import { app } from 'electron';");
      // Layers that do not exist are simply absent; here all four do.
      expect(checkLayers(collectSourceFiles(root))).toEqual([
        `main/b.mjs: imports ../renderer/App.js (${RULES.intoRenderer})`,
        `renderer/d.tsx: imports electron (${RULES.electron})`,
        `shared/deep/a.ts: imports node:fs (${RULES.shared})`,
        `workers/c.js: imports ../main/m.js (${RULES.workers})`,
      ]);
      rmSync(join(root, 'renderer'), { recursive: true });
      rmSync(join(root, 'workers'), { recursive: true });
      expect(collectSourceFiles(root).map((f) => f.path)).toEqual(['main/b.mjs', 'shared/deep/a.ts', 'shared/ok.ts']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('walks the layer folders, skipping node_modules, dist and build', () => {
    const files = collectSourceFiles(projectRoot).map((f) => f.path);
    for (const path of files) {
      expect(layerOf(path), path).toBeDefined();
      expect(path.split('/').some((part) => SKIPPED_DIRECTORIES.has(part)), path).toBe(false);
      expect(SOURCE_EXTENSIONS.some((extension) => path.endsWith(extension)), path).toBe(true);
    }
    expect(files.length).toBeGreaterThan(0);
  });
});
