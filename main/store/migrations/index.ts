import type { Migration } from './types.js';
import { migration as m001 } from './001-repositories-and-settings.js';
import { migration as m002 } from './002-jobs-and-runs.js';
import { migration as m003 } from './003-restore-tests.js';
import { migration as m004 } from './004-repository-credentials.js';

export type { Migration } from './types.js';

/**
 * Every schema migration, oldest first. Versions run 1..N without gaps (a
 * unit test checks this and that every `NNN-*.ts` file here is listed).
 * Append new migrations; never reorder, renumber or edit released ones.
 */
export const MIGRATIONS: readonly Migration[] = Object.freeze([m001, m002, m003, m004]);

/** The schema version this build of Lifeboat creates and understands. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;
