import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertValidMigrationList } from '../../main/store/migrate.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from '../../main/store/migrations/index.js';

const migrationsDir = fileURLToPath(new URL('../../main/store/migrations/', import.meta.url));

describe('the migration list', () => {
  it('is not empty and its versions are exactly 1..N in order', () => {
    expect(MIGRATIONS.length).toBeGreaterThan(0);
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('has unique kebab-case names', () => {
    const names = MIGRATIONS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });

  it('lists every NNN-name.ts file in main/store/migrations, and each file matches its entry', () => {
    const files = readdirSync(migrationsDir)
      .filter((f) => /^\d+-.*\.ts$/.test(f))
      .sort();
    const expected = MIGRATIONS.map((m) => `${String(m.version).padStart(3, '0')}-${m.name}.ts`);
    expect(files).toEqual(expected);
  });

  it('each file exports a migration object with a synchronous up()', async () => {
    for (const m of MIGRATIONS) {
      const file = join(migrationsDir, `${String(m.version).padStart(3, '0')}-${m.name}.ts`);
      const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { migration: Migration };
      expect(mod.migration).toBe(m);
      expect(typeof m.up).toBe('function');
      expect(m.up.constructor.name).toBe('Function'); // not an AsyncFunction
    }
  });

  it('passes the runner validation', () => {
    expect(() => assertValidMigrationList(MIGRATIONS)).not.toThrow();
  });
});

describe('assertValidMigrationList', () => {
  const m = (version: number, name = `step-${version}`): Migration => ({ version, name, up: () => {} });

  it('accepts an empty list and a contiguous one', () => {
    expect(() => assertValidMigrationList([])).not.toThrow();
    expect(() => assertValidMigrationList([m(1), m(2), m(3)])).not.toThrow();
  });

  it('rejects a gap, a duplicate version, a list not starting at 1, and a wrong order', () => {
    expect(() => assertValidMigrationList([m(1), m(3)])).toThrow(/has version 3, expected 2/);
    expect(() => assertValidMigrationList([m(1), m(1, 'again')])).toThrow(/expected 2/);
    expect(() => assertValidMigrationList([m(2)])).toThrow(/expected 1/);
    expect(() => assertValidMigrationList([m(2), m(1)])).toThrow(/expected 1/);
  });

  it('rejects duplicate and non-kebab-case names', () => {
    expect(() => assertValidMigrationList([m(1, 'same'), m(2, 'same')])).toThrow(/"same" is used twice/);
    expect(() => assertValidMigrationList([m(1, 'Bad Name')])).toThrow(/non-kebab-case/);
  });
});
