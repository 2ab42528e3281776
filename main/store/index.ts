/** The SQLite store: open a database, then use its typed stores. */
export { openDatabase, type LifeboatDatabase, type OpenDatabaseOptions } from './database.js';
export { migrate, readSchemaVersion, assertValidMigrationList, type MigrateOptions, type MigrationOutcome } from './migrate.js';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, type Migration } from './migrations/index.js';
export { RepositoryStore, type Repository, type NewRepository, type RepositoryPatch } from './repositories.js';
export { SettingsStore } from './settings.js';
export { JobStore, type JobListFilter } from './jobs.js';
export {
  RunStore, RUN_LOG_MAX_BYTES, RUN_LOG_TRUNCATION_MARKER, INTERRUPTED_RUN_ERROR, type NewRun, type RunPatch, type RunListFilter,
} from './runs.js';
export { DatabaseFromTheFutureError, MigrationError, DuplicateValueError, RecordNotFoundError } from './errors.js';
