import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { formatBytes, formatDuration } from '../../../shared/format.js';
import { RESTORE_TEST_DEFAULTS, scopeText, validateRestoreTestScope, type RestoreTestRecord, type RestoreTestScope } from '../../../shared/restore-test.js';
import { ValidationError } from '../../../shared/validation.js';
import { restoreTest, type SourceLocation } from '../../engine/restore-test.js';
import { prepareDataDir, resolveDataDir } from '../../service/data-dir.js';
import { parseIntOption, repositoryLocation } from '../options.js';
import { ProgressBar } from '../progress-bar.js';
import { openCliRepository, type RepositoryFlags } from '../repository.js';
import { findJob, withService } from './service.js';

interface RestoreTestFlags {
  snapshot?: string;
  sample?: string;
  percent?: string;
  path?: string[];
  full?: boolean;
  source?: string;
  sandbox?: string;
  keepSandbox?: boolean;
  seed?: string;
}

interface Globals extends RepositoryFlags {
  json?: boolean;
  quiet?: boolean;
  workers?: string;
  dataDir?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The scope the flags ask for (at most one of --sample, --percent, --path, --full), or undefined. */
function scopeFromFlags(o: RestoreTestFlags): RestoreTestScope | undefined {
  const given = [o.sample !== undefined && '--sample', o.percent !== undefined && '--percent', o.path !== undefined && '--path', o.full && '--full'].filter(Boolean);
  if (given.length > 1) throw new ValidationError('scope', `give one of --sample, --percent, --path, --full (got ${given.join(' and ')})`);
  if (o.sample !== undefined) return { kind: 'sample', files: parseIntOption(o.sample, 'sample', 1, 1_000_000) };
  if (o.percent !== undefined) {
    const p = Number(o.percent.replace(/%$/, ''));
    return validateRestoreTestScope({ kind: 'percent', percent: Number.isFinite(p) ? p : NaN }, 'percent') as RestoreTestScope;
  }
  if (o.path !== undefined) return validateRestoreTestScope({ kind: 'paths', paths: o.path }, 'path');
  if (o.full) return { kind: 'full' };
  return undefined;
}

function absolute(p: string): string {
  return path.resolve(p);
}

function report(t: RestoreTestRecord): string {
  const lines = [
    `restore test #${t.id} ${t.passed ? 'PASSED' : 'FAILED'}: ${t.jobName ? `job ${t.jobName}, ` : ''}snapshot ${t.snapshotId.slice(0, 8)} of ${t.snapshotTime}, ${scopeText(t.scope)} (seed ${t.seed})`,
    `  ${t.filesVerified}/${t.filesPlanned} files verified against the snapshot's content hashes (${formatBytes(t.bytesRestored)}), ${t.filesComparedWithSource} also against the live source`,
    `  took ${formatDuration(t.durationMs)}; full restore ${t.scope.kind === 'full' ? 'measured' : 'estimated'} at ${formatDuration(t.estimatedFullRestoreMs)}${t.targetRtoMinutes === null ? '' : `, target RTO ${t.targetRtoMinutes} min: ${t.rtoMet ? 'met' : 'NOT met'}`}`,
    ...t.mismatches.map((m) => `  mismatch: ${m.path}: ${m.reason}`),
    ...t.notRestored.map((m) => `  not restored: ${m.path}: ${m.reason}`),
    ...t.failures.map((f) => `  failed: ${f}`),
    t.sandboxKept ? `  sandbox kept at ${t.sandboxPath}` : '',
  ];
  return lines.filter(Boolean).join('\n');
}

/**
 * `lifeboat restore-test [JOB]`: proves a restore, for a job (through the
 * service, recorded as a run and as evidence) or, with -r, for any
 * repository (recorded as evidence in the data folder). Exit 0 pass, 1 fail.
 */
export function registerRestoreTestCommand(program: Command): void {
  program
    .command('restore-test')
    .description("restore a sample (or chosen paths, or all) of a snapshot into a sandbox and verify every byte; records the evidence. Exit 0 pass, 1 fail")
    .argument('[job]', 'job name or id; or give -r REPO (and --password-file) to test any repository without a job')
    .option('--snapshot <id>', 'snapshot ID or prefix (default: the latest)')
    .option('--sample <n>', 'a stratified random sample of N files (the default scope: the job\'s, else 50 files)')
    .option('--percent <p>', 'a stratified random sample of P% of the bytes')
    .option('--path <path>', 'restore this snapshot path (file or folder; repeatable)', collect)
    .option('--full', 'restore the whole snapshot')
    .option('--source <dir>', "where the snapshot's (single) backed-up folder lives now, to compare unchanged files with it (default: where it was backed up from)")
    .option('--sandbox <dir>', 'make the sandbox in this folder (default: the temporary folder)')
    .option('--keep-sandbox', 'keep the restored files afterwards')
    .option('--seed <n>', 'seed of the random sample (to draw the same sample again)')
    .action(async (jobRef: string | undefined, o: RestoreTestFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals() as Globals;
      const scope = scopeFromFlags(o);
      const seed = o.seed === undefined ? undefined : parseIntOption(o.seed, 'seed', 0, 2 ** 31 - 1);
      const bar = new ProgressBar();
      const showProgress = !g.quiet && !g.json;
      let record: RestoreTestRecord | undefined;
      if (jobRef !== undefined) {
        if (g.repo) throw new ValidationError('repo', 'give a job or -r REPO, not both');
        record = await withService(cmd, async (svc) => {
          const s = await findJob(svc, jobRef);
          if (showProgress) svc.on('runProgress', (p) => bar.update(p.progress));
          const run = await svc.startRestoreTest({
            jobId: s.job.id,
            ...(o.snapshot ? { snapshotId: o.snapshot } : {}),
            ...(scope ? { scope } : {}),
            ...(seed !== undefined ? { seed } : {}),
            ...(o.sandbox ? { sandboxParent: absolute(o.sandbox) } : {}),
            ...(o.keepSandbox ? { keepSandbox: true } : {}),
            ...(o.source ? { sourceDir: absolute(o.source) } : {}),
          });
          await svc.idle();
          bar.clear();
          const found = (await svc.listRestoreTests({ runId: run.id }))[0];
          if (!found) {
            const done = (await svc.listRuns({ jobId: s.job.id, limit: 20 })).find((r) => r.id === run.id);
            throw new Error(`the restore test could not be carried out: ${done?.error ?? done?.status ?? 'unknown'}`);
          }
          return found;
        });
      } else {
        if (!g.repo && !process.env.LIFEBOAT_REPOSITORY) throw new ValidationError('job', 'give a job name, or -r REPO (with --password-file) to test a repository without a job');
        const repo = await openCliRepository(g);
        const snapshot = await repo.findSnapshot(o.snapshot ?? 'latest');
        let source: SourceLocation = { kind: 'same-paths' };
        if (o.source) {
          if (snapshot.paths.length !== 1) throw new ValidationError('source', `snapshot ${snapshot.id.slice(0, 8)} has ${snapshot.paths.length} paths; --source can stand for exactly one`);
          source = { kind: 'moved', livePath: absolute(o.source) };
        }
        const outcome = await restoreTest(repo, snapshot, {
          scope: scope ?? RESTORE_TEST_DEFAULTS.scope,
          ...(seed !== undefined ? { seed } : {}),
          sandboxParent: o.sandbox ? absolute(o.sandbox) : os.tmpdir(),
          keepSandbox: Boolean(o.keepSandbox),
          source,
          ...(g.workers ? { workers: parseIntOption(g.workers, 'workers', 1, 64) } : {}),
          ...(showProgress ? { onProgress: (p) => bar.update(p) } : {}),
        });
        bar.clear();
        const { database } = prepareDataDir(resolveDataDir(g.dataDir));
        // The store (and its native SQLite binding) loads only for the commands that need it.
        const { openDatabase } = await import('../../store/database.js');
        const db = openDatabase(database);
        try {
          record = db.restoreTests.add({ ...outcome, jobId: null, jobName: null, runId: null, trigger: 'cli', repositoryLocation: repositoryLocation(g) });
        } finally {
          db.close();
        }
      }
      process.stdout.write((g.json ? JSON.stringify(record) : report(record)) + '\n');
      process.exitCode = record.passed ? 0 : 1;
    });

  program
    .command('restore-tests')
    .description("the restore-test history (newest first), or the evidence for auditors with --export")
    .argument('[job]', 'only this job (name or id)')
    .option('--from <date>', 'only tests that ended on or after this date/time (ISO, e.g. 2026-01-01)')
    .option('--to <date>', 'only tests that ended on or before this date/time (ISO)')
    .option('--export <format>', 'html (print-ready report) or csv: per job and quarter, tested? passed?, then every test; default period: the last four quarters')
    .option('--out <file>', 'write the export to this file instead of standard output')
    .action(async (jobRef: string | undefined, o: { from?: string; to?: string; export?: string; out?: string }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const jobId = jobRef === undefined ? undefined : (await findJob(svc, jobRef)).job.id;
        const range = { ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) };
        if (o.export !== undefined) {
          const e = await svc.exportRestoreTestEvidence({ format: o.export as 'html' | 'csv', ...(jobId !== undefined ? { jobId } : {}), ...range });
          if (o.out) {
            writeFileSync(o.out, e.content);
            process.stdout.write(`${e.fileName.endsWith('.html') ? 'HTML report' : 'CSV'} written to ${o.out}\n`);
          } else process.stdout.write(e.content);
          return;
        }
        const tests = await svc.listRestoreTests({ ...(jobId !== undefined ? { jobId } : {}), ...range });
        const line = (t: RestoreTestRecord) =>
          `#${t.id} ${t.endedAt} ${t.passed ? 'PASSED' : 'FAILED'} ${t.jobName ?? t.repositoryLocation} snapshot ${t.snapshotId.slice(0, 8)} ${scopeText(t.scope)}: ` +
          `${t.filesVerified}/${t.filesPlanned} verified${t.operator ? `, signed off by ${t.operator}` : ''}${t.passed ? '' : ` (${t.failures.join('; ')})`}`;
        process.stdout.write((g.json ? JSON.stringify(tests) : tests.map(line).join('\n') || 'no restore tests') + '\n');
      }),
    );
}
