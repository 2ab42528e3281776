import type { Database } from 'better-sqlite3';
import { DatabaseFromTheFutureError, MigrationError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /**
   * The schema history to apply, oldest first, versions 1..N without gaps.
   * Defaults to {@link MIGRATIONS}; tests inject a prefix of it or synthetic
   * (e.g. deliberately failing) migrations.
   */
  readonly migrations?: readonly Migration[];
  /** How to name the database in errors. Defaults to the connection's file name. */
  readonly path?: string;
}

/** What {@link migrate} did. */
export interface MigrationOutcome {
  /** Schema version before the run. */
  readonly from: number;
  /** Schema version after the run. */
  readonly to: number;
  /** `NNN-name` of every migration applied by this run, in order. */
  readonly applied: readonly string[];
}

/**
 * Bring a database up to the newest schema in `options.migrations`.
 *
 * - The schema version is `PRAGMA user_version` (0 for a new, empty file).
 * - Each pending migration runs in its own `BEGIN IMMEDIATE` transaction
 *   together with `PRAGMA user_version = N`, so a database is always exactly at
 *   some version: if migration N throws, or leaves foreign-key violations
 *   behind, that transaction is rolled back, the database stays at N-1 and a
 *   {@link MigrationError} naming the migration is thrown.
 * - A database whose version is greater than the newest known migration is
 *   refused with {@link DatabaseFromTheFutureError} before anything is written.
 * - Migrations run with `foreign_keys = OFF` (so tables can be rebuilt) and
 *   the previous setting is restored afterwards.
 * - The version is re-read inside each transaction, so a second process that
 *   migrated the same file concurrently is noticed instead of re-applied.
 *
 * Must not be called while a transaction is open on `db`.
 *
 * @throws {DatabaseFromTheFutureError} the file is newer than this build
 * @throws {MigrationError} a migration failed (and was rolled back)
 * @throws {Error} the migration list itself is malformed (a programming error)
 */
export function migrate(db: Database, options: MigrateOptions = {}): MigrationOutcome {
  const migrations = options.migrations ?? MIGRATIONS;
  assertValidMigrationList(migrations);
  const path = options.path ?? db.name;
  const newest = migrations.at(-1)?.version ?? 0;

  const from = readSchemaVersion(db);
  if (from > newest) throw new DatabaseFromTheFutureError(path, from, newest);
  if (from === newest) return { from, to: from, applied: [] };
  if (db.inTransaction) throw new Error('migrate() must not be called inside an open transaction');

  const foreignKeysWereOn = db.pragma('foreign_keys', { simple: true }) === 1;
  if (foreignKeysWereOn) db.pragma('foreign_keys = OFF');
  const applied: string[] = [];
  try {
    for (const migration of migrations) {
      if (migration.version <= from) continue;
      const apply = db.transaction((): boolean => {
        const current = readSchemaVersion(db);
        if (current > newest) throw new DatabaseFromTheFutureError(path, current, newest);
        if (current >= migration.version) return false; // another process got there first
        migration.up(db);
        if (!db.inTransaction) {
          throw new Error('the migration ended the runner\'s transaction itself (it must not COMMIT or ROLLBACK)');
        }
        const violations = db.pragma('foreign_key_check') as unknown[];
        if (violations.length > 0) {
          throw new Error(`it left ${violations.length} foreign-key violation(s): ${JSON.stringify(violations.slice(0, 5))}`);
        }
        db.pragma(`user_version = ${migration.version}`);
        return true;
      });
      let ran: boolean;
      try {
        ran = apply.immediate();
      } catch (error) {
        if (error instanceof DatabaseFromTheFutureError) throw error;
        throw new MigrationError(migration.version, migration.name, error);
      }
      if (ran) applied.push(migrationLabel(migration));
    }
  } finally {
    if (foreignKeysWereOn) db.pragma('foreign_keys = ON');
  }
  return { from, to: readSchemaVersion(db), applied };
}

/** The database's schema version, i.e. `PRAGMA user_version` (0 for a new file). */
export function readSchemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Check that `migrations` is a usable history: versions are the integers
 * 1..N in order and names are unique kebab-case.
 *
 * @throws {Error} describing the first problem found
 */
export function assertValidMigrationList(migrations: readonly Migration[]): void {
  const names = new Set<string>();
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(
        `migration list is malformed: entry ${index} ("${migration.name}") has version ${migration.version}, expected ${index + 1}`,
      );
    }
    if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(migration.name)) {
      throw new Error(`migration list is malformed: migration ${migration.version} has a non-kebab-case name "${migration.name}"`);
    }
    if (names.has(migration.name)) {
      throw new Error(`migration list is malformed: the name "${migration.name}" is used twice`);
    }
    names.add(migration.name);
  });
}

function migrationLabel(migration: Migration): string {
  return `${String(migration.version).padStart(3, '0')}-${migration.name}`;
}
