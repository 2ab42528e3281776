/**
 * Restore tests: the per-job policy (cadence, due-soon window, target RTO,
 * default scope, drill schedule), the pure decision of whether a test is due,
 * the deterministic choice of the sample a test restores, and the evidence
 * record a test leaves. Pure: the clock and the random seed are passed in.
 */
import { seededRandom } from './seeded-random.js';
import {
  rejectUnknownKeys, requireInt, requireObject, requireOneOf, requireString, requireStringArray, ValidationError,
} from './validation.js';

/** What a restore test restores and verifies. */
export type RestoreTestScope =
  /** A stratified random sample of this many files. */
  | { kind: 'sample'; files: number }
  /** A stratified random sample covering at least this percentage of the snapshot's bytes. */
  | { kind: 'percent'; percent: number }
  /** These snapshot paths (files or folders, with everything below). */
  | { kind: 'paths'; paths: string[] }
  /** The whole snapshot. */
  | { kind: 'full' };

/** A job's restore-test policy. */
export interface RestoreTestSettings {
  /** A passing test is expected every this many days. */
  cadenceDays: number;
  /** The test is "due soon" this many days before it is due. */
  dueSoonDays: number;
  /** Recovery time objective in minutes: the longest a full restore may take; null: none set. */
  targetRtoMinutes: number | null;
  /** What a test restores unless told otherwise. */
  scope: RestoreTestScope;
  /** systemd calendar event for automatic drills; null: tests are started by hand only. */
  drillSchedule: string | null;
}

export const RESTORE_TEST_DEFAULTS: RestoreTestSettings = {
  cadenceDays: 90,
  dueSoonDays: 14,
  targetRtoMinutes: null,
  scope: { kind: 'sample', files: 50 },
  drillSchedule: null,
};

/** A due test becomes overdue this many days after its due date. */
export const OVERDUE_AFTER_DAYS = 7;

const DAY_MS = 86_400_000;
const MAX_SAMPLE_FILES = 1_000_000;

/**
 * Validates a scope. Throws ValidationError naming the field (`field.kind`,
 * `field.files`, `field.percent`, `field.paths[i]`).
 */
export function validateRestoreTestScope(input: unknown, field: string): RestoreTestScope {
  const o = requireObject(input, field);
  const kind = requireOneOf(o.kind, `${field}.kind`, ['sample', 'percent', 'paths', 'full'] as const);
  switch (kind) {
    case 'sample':
      rejectUnknownKeys(o, field, ['kind', 'files']);
      return { kind, files: requireInt(o.files, `${field}.files`, 1, MAX_SAMPLE_FILES) };
    case 'percent': {
      rejectUnknownKeys(o, field, ['kind', 'percent']);
      const p = o.percent;
      if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > 100) throw new ValidationError(`${field}.percent`, 'must be a number above 0 and at most 100');
      return { kind, percent: p };
    }
    case 'paths': {
      rejectUnknownKeys(o, field, ['kind', 'paths']);
      const paths = requireStringArray(o.paths, `${field}.paths`, { min: 1 });
      paths.forEach((p, i) => {
        if (!p.startsWith('/')) throw new ValidationError(`${field}.paths[${i}]`, `${JSON.stringify(p)} must be a path in the snapshot, starting with /`);
      });
      return { kind, paths };
    }
    case 'full':
      rejectUnknownKeys(o, field, ['kind']);
      return { kind };
  }
}

/**
 * Validates a job's restore-test settings; missing ones take
 * {@link RESTORE_TEST_DEFAULTS}. `acceptSchedule` checks (and may convert)
 * the drill schedule. Throws ValidationError naming the field
 * (`restoreTest.cadenceDays`, ...).
 */
export function validateRestoreTestSettings(input: unknown, acceptSchedule: (expr: string, field: string) => string, field = 'restoreTest'): RestoreTestSettings {
  const o = input === undefined ? {} : requireObject(input, field);
  rejectUnknownKeys(o, field, Object.keys(RESTORE_TEST_DEFAULTS));
  const d = { ...RESTORE_TEST_DEFAULTS, ...o } as Record<string, unknown>;
  const cadenceDays = requireInt(d.cadenceDays, `${field}.cadenceDays`, 1, 3660);
  const dueSoonDays = requireInt(d.dueSoonDays, `${field}.dueSoonDays`, 0, 3660);
  if (dueSoonDays >= cadenceDays) throw new ValidationError(`${field}.dueSoonDays`, `must be less than cadenceDays (${cadenceDays})`);
  return {
    cadenceDays,
    dueSoonDays,
    targetRtoMinutes: d.targetRtoMinutes === null ? null : requireInt(d.targetRtoMinutes, `${field}.targetRtoMinutes`, 1, 60 * 24 * 366),
    scope: validateRestoreTestScope(d.scope, `${field}.scope`),
    drillSchedule: d.drillSchedule === null || d.drillSchedule === '' ? null : acceptSchedule(requireString(d.drillSchedule, `${field}.drillSchedule`).trim(), `${field}.drillSchedule`),
  };
}

/** What {@link restoreTestDue} needs to know of a job's past tests. */
export interface RestoreTestHistory {
  /** When the newest passing test ended (ISO), null if none ever passed. */
  lastPassedAt: string | null;
  /** The newest test of any outcome, null if never tested. */
  lastTest: { endedAt: string; passed: boolean } | null;
}

export type RestoreTestDueState = 'not-due' | 'due-soon' | 'due' | 'overdue' | 'never-tested';

/** Whether a job's restore test is due, with the dates behind the answer. */
export interface RestoreTestDue {
  state: RestoreTestDueState;
  /** When a passing test is next expected (ISO); null when no test ever passed. */
  dueAt: string | null;
  /** From when the test counts as due soon (ISO); null when no test ever passed. */
  dueSoonFrom: string | null;
  /** From when it counts as overdue (ISO); null when no test ever passed. */
  overdueFrom: string | null;
  lastPassedAt: string | null;
  lastTestedAt: string | null;
  lastPassed: boolean | null;
  /** Whole days until due (negative: days past due); null when no test ever passed. */
  daysLeft: number | null;
  /** One sentence for an admin. */
  message: string;
}

/**
 * Whether `job`'s restore test is due at `now`. Pure. Only a passing test
 * resets the cadence: due at last pass + cadenceDays, due soon from
 * dueSoonDays before that, overdue {@link OVERDUE_AFTER_DAYS} days after it.
 * A job never tested is `never-tested`; one whose tests all failed is
 * `overdue` (nothing proves its backups can be restored).
 */
export function restoreTestDue(now: Date, job: { restoreTest: Pick<RestoreTestSettings, 'cadenceDays' | 'dueSoonDays'> }, history: RestoreTestHistory): RestoreTestDue {
  const { cadenceDays, dueSoonDays } = job.restoreTest;
  const base = { lastPassedAt: history.lastPassedAt, lastTestedAt: history.lastTest?.endedAt ?? null, lastPassed: history.lastTest?.passed ?? null };
  if (history.lastPassedAt === null) {
    if (history.lastTest === null) {
      return { state: 'never-tested', dueAt: null, dueSoonFrom: null, overdueFrom: null, daysLeft: null, ...base, message: 'never tested: no restore from this job has been proven yet' };
    }
    return { state: 'overdue', dueAt: null, dueSoonFrom: null, overdueFrom: null, daysLeft: null, ...base, message: `no restore test has passed yet; the last one (${day(history.lastTest.endedAt)}) failed` };
  }
  const passed = Date.parse(history.lastPassedAt);
  const dueAt = passed + cadenceDays * DAY_MS;
  const dueSoonFrom = dueAt - dueSoonDays * DAY_MS;
  const overdueFrom = dueAt + OVERDUE_AFTER_DAYS * DAY_MS;
  const t = now.getTime();
  const daysLeft = Math.floor((dueAt - t) / DAY_MS);
  const dates = { dueAt: new Date(dueAt).toISOString(), dueSoonFrom: new Date(dueSoonFrom).toISOString(), overdueFrom: new Date(overdueFrom).toISOString(), daysLeft, ...base };
  const failedSince = history.lastTest && !history.lastTest.passed ? `; the latest test (${day(history.lastTest.endedAt)}) failed` : '';
  if (t >= overdueFrom) return { state: 'overdue', ...dates, message: `overdue since ${day(dates.overdueFrom)} (last passed ${day(history.lastPassedAt)})${failedSince}` };
  if (t >= dueAt) return { state: 'due', ...dates, message: `due since ${day(dates.dueAt)} (last passed ${day(history.lastPassedAt)})${failedSince}` };
  if (t >= dueSoonFrom) return { state: 'due-soon', ...dates, message: `due on ${day(dates.dueAt)}, in ${Math.max(0, daysLeft)} day${daysLeft === 1 ? '' : 's'}${failedSince}` };
  return { state: 'not-due', ...dates, message: `next test due on ${day(dates.dueAt)}${failedSince}` };
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** What the tray and desktop notifications should say about restore tests (see {@link restoreTestAlert}). */
export interface RestoreTestAlert {
  /** Amber when any job's restore test is overdue. */
  tray: 'normal' | 'amber';
  /** Raise a desktop notification now (at most once a day, only while something is overdue). */
  notify: boolean;
  /** The notification's text (also the tray's tooltip line); empty when nothing is overdue. */
  text: string;
}

/** A notification about overdue restore tests is raised at most this often. */
export const ALERT_INTERVAL_MS = DAY_MS;

/**
 * The tray state and whether to notify, from every job's due state. Pure:
 * the host (Electron tray, or any other shell) keeps `lastNotifiedAt` and
 * calls this on each status change or timer tick. Overdue tests turn the
 * tray amber; a notification is due when one is overdue and none was raised
 * in the last 24 hours. Jobs never tested are named in the text too.
 */
export function restoreTestAlert(now: Date, jobs: readonly { name: string; due: Pick<RestoreTestDue, 'state'> }[], lastNotifiedAt: Date | null): RestoreTestAlert {
  const overdue = jobs.filter((j) => j.due.state === 'overdue').map((j) => j.name);
  if (overdue.length === 0) return { tray: 'normal', notify: false, text: '' };
  const never = jobs.filter((j) => j.due.state === 'never-tested').map((j) => j.name);
  const list = (names: string[]) => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`);
  const text = `Restore test overdue: ${list(overdue)}${never.length ? `; never tested: ${list(never)}` : ''}`;
  const notify = lastNotifiedAt === null || now.getTime() - lastNotifiedAt.getTime() >= ALERT_INTERVAL_MS;
  return { tray: 'amber', notify, text };
}

/** A file of a snapshot, as the sampler sees it. */
export interface SampleCandidate {
  /** Path in the snapshot ("/srv/site/a.txt"). */
  path: string;
  size: number;
}

/** The sample a test restores, and how it was chosen. */
export interface ChosenSample {
  /** Snapshot paths to restore (files, or for `paths`/`full` scope the chosen roots). */
  paths: string[];
  files: number;
  bytes: number;
}

/** Size classes of the stratification (upper bounds, bytes): empty/tiny, small, medium, large, huge. */
const SIZE_CLASSES = [4 * 1024, 256 * 1024, 8 * 1024 * 1024, 256 * 1024 * 1024, Infinity];

function sizeClass(size: number): number {
  return SIZE_CLASSES.findIndex((limit) => size <= limit);
}

/** The folder a file counts under for stratification: its parent folder. */
function folderOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * Chooses a sample of `files` for a `sample` or `percent` scope. Deterministic
 * given `seed`. Stratified: files are grouped by size class and by folder, and
 * taken round-robin across the groups (largest class first, groups in a
 * seeded order), one random file per group per round, so large and small
 * files and several folders are covered before any group gives a second file.
 * `sample` stops at N files; `percent` once the chosen bytes reach P% of the
 * total (at least one file). Paths come back sorted.
 */
export function chooseSample(files: readonly SampleCandidate[], scope: Extract<RestoreTestScope, { kind: 'sample' | 'percent' }>, seed: number): ChosenSample {
  const random = seededRandom(seed);
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const groups = new Map<string, SampleCandidate[]>();
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const key = `${sizeClass(f.size)}\u0000${folderOf(f.path)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(f);
  }
  // Groups ordered by size class (largest first), then shuffled within a class by the seed.
  const keyed = [...groups.entries()].map(([key, members]) => ({ cls: Number(key.split('\u0000')[0]), order: random(), members }));
  keyed.sort((a, b) => b.cls - a.cls || a.order - b.order);
  // Interleave classes so one round covers every size class before a second folder of the same class.
  const byClass = new Map<number, SampleCandidate[][]>();
  for (const g of keyed) {
    let list = byClass.get(g.cls);
    if (!list) byClass.set(g.cls, (list = []));
    list.push(g.members);
  }
  const rounds: SampleCandidate[][] = [];
  const classLists = [...byClass.values()];
  for (let i = 0; classLists.some((l) => i < l.length); i++) for (const l of classLists) if (i < l.length) rounds.push(l[i]!);

  const chosen: SampleCandidate[] = [];
  let bytes = 0;
  const enough = () => (scope.kind === 'sample' ? chosen.length >= scope.files : chosen.length > 0 && bytes >= (totalBytes * scope.percent) / 100);
  const pools = rounds.map((g) => [...g]);
  while (!enough() && pools.some((p) => p.length > 0)) {
    for (const pool of pools) {
      if (pool.length === 0) continue;
      const i = Math.floor(random() * pool.length);
      const [f] = pool.splice(i, 1);
      chosen.push(f!);
      bytes += f!.size;
      if (enough()) break;
    }
  }
  return { paths: chosen.map((f) => f.path).sort(), files: chosen.length, bytes };
}

/** A file that did not restore identically, or could not be restored. */
export interface RestoreTestProblem {
  /** Path in the snapshot. */
  path: string;
  /** What is wrong, for an admin. */
  reason: string;
}

/** The evidence one restore test leaves (stored in `restore_tests`, printed by `--json`). */
export interface RestoreTestRecord {
  id: number;
  /** The job tested; null for a bare repository (CLI `-r`) or when the job was deleted since. */
  jobId: number | null;
  /** The job's name when tested (kept for the record after the job is gone); null for a bare repository. */
  jobName: string | null;
  /** The run that carried out the test (drills and service-started tests); null for CLI tests. */
  runId: number | null;
  /** The repository's location as tested. */
  repositoryLocation: string;
  /** restic's repository ID. */
  repositoryId: string;
  snapshotId: string;
  /** The snapshot's own time (ISO). */
  snapshotTime: string;
  trigger: 'manual' | 'schedule' | 'catch-up' | 'cli';
  scope: RestoreTestScope;
  /** Seed of the random sample (recorded so the same sample can be drawn again). */
  seed: number;
  /** The snapshot paths restored. */
  sample: string[];
  filesPlanned: number;
  bytesPlanned: number;
  filesRestored: number;
  bytesRestored: number;
  /** Files whose restored bytes were checked against the snapshot's content hashes. */
  filesVerified: number;
  /** Files also compared with the live source (its size and mtime still matched the snapshot). */
  filesComparedWithSource: number;
  mismatches: RestoreTestProblem[];
  notRestored: RestoreTestProblem[];
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Estimated time of a full restore of the snapshot at the measured rate; equal to durationMs for a full test. */
  estimatedFullRestoreMs: number;
  targetRtoMinutes: number | null;
  /** Whether the (estimated) full restore time is within the target RTO; null without a target. */
  rtoMet: boolean | null;
  passed: boolean;
  /** Why the test failed, empty when it passed. */
  failures: string[];
  operator: string | null;
  note: string | null;
  signedOffAt: string | null;
  appVersion: string;
  sandboxPath: string;
  sandboxKept: boolean;
}

/** A calendar quarter, e.g. "2026-Q3". */
export function quarterOf(iso: string): string {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-Q${Math.floor(d.getUTCMonth() / 3) + 1}`;
}

/** Every quarter from `fromIso` to `toIso` inclusive, oldest first. */
export function quartersBetween(fromIso: string, toIso: string): string[] {
  const from = new Date(fromIso);
  const to = new Date(toIso);
  const out: string[] = [];
  let y = from.getUTCFullYear();
  let q = Math.floor(from.getUTCMonth() / 3);
  const endY = to.getUTCFullYear();
  const endQ = Math.floor(to.getUTCMonth() / 3);
  while (y < endY || (y === endY && q <= endQ)) {
    out.push(`${y}-Q${q + 1}`);
    if (++q === 4) {
      q = 0;
      y++;
    }
  }
  return out;
}

/** One cell of the evidence grid: a job in a quarter. */
export interface EvidenceCell {
  tests: number;
  passed: number;
  /** "passed", "failed" (tested, none passed), or "not tested". */
  verdict: 'passed' | 'failed' | 'not tested';
}

/** The evidence grid: per job, per quarter, whether it was tested and passed. */
export interface EvidenceGrid {
  from: string;
  to: string;
  quarters: string[];
  rows: { job: string; cells: EvidenceCell[] }[];
}

/**
 * Builds the evidence grid over `[from, to]` for the given job names (every
 * job appears, tested or not) from the tests' records. Bare-repository tests
 * appear under their repository location.
 */
export function evidenceGrid(jobs: readonly string[], tests: readonly Pick<RestoreTestRecord, 'jobName' | 'repositoryLocation' | 'endedAt' | 'passed'>[], from: string, to: string): EvidenceGrid {
  const quarters = quartersBetween(from, to);
  const names = [...jobs];
  for (const t of tests) {
    const n = t.jobName ?? `repository ${t.repositoryLocation}`;
    if (!names.includes(n)) names.push(n);
  }
  const rows = names.map((job) => ({
    job,
    cells: quarters.map((q): EvidenceCell => {
      const inQ = tests.filter((t) => (t.jobName ?? `repository ${t.repositoryLocation}`) === job && quarterOf(t.endedAt) === q && t.endedAt >= from && t.endedAt <= to);
      const passed = inQ.filter((t) => t.passed).length;
      return { tests: inQ.length, passed, verdict: inQ.length === 0 ? 'not tested' : passed > 0 ? 'passed' : 'failed' };
    }),
  }));
  return { from, to, quarters, rows };
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The evidence as CSV: a header line, then one row per job per quarter, then one row per test. */
export function evidenceCsv(grid: EvidenceGrid, tests: readonly RestoreTestRecord[]): string {
  const lines = ['section,job,quarter,tested,passed,tests,passing_tests'];
  for (const r of grid.rows) {
    grid.quarters.forEach((q, i) => {
      const c = r.cells[i]!;
      lines.push(['quarter', r.job, q, c.tests > 0 ? 'yes' : 'no', c.verdict === 'passed' ? 'yes' : 'no', String(c.tests), String(c.passed)].map(csvField).join(','));
    });
  }
  lines.push('');
  lines.push('section,id,job,repository,snapshot,ended_at,scope,files_restored,bytes_restored,mismatches,not_restored,duration_ms,target_rto_minutes,rto_met,result,operator,note,app_version,failures');
  for (const t of tests) {
    lines.push(
      [
        'test', String(t.id), t.jobName ?? '', t.repositoryLocation, t.snapshotId, t.endedAt, scopeText(t.scope), String(t.filesRestored), String(t.bytesRestored),
        t.mismatches.map((m) => `${m.path}: ${m.reason}`).join('; '), t.notRestored.map((m) => `${m.path}: ${m.reason}`).join('; '), String(t.durationMs),
        t.targetRtoMinutes === null ? '' : String(t.targetRtoMinutes), t.rtoMet === null ? '' : t.rtoMet ? 'yes' : 'no', t.passed ? 'pass' : 'fail',
        t.operator ?? '', t.note ?? '', t.appVersion, t.failures.join('; '),
      ].map(csvField).join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** A scope in words: "sample of 50 files", "10% of bytes", "paths /a, /b", "full snapshot". */
export function scopeText(s: RestoreTestScope): string {
  switch (s.kind) {
    case 'sample':
      return `sample of ${s.files} files`;
    case 'percent':
      return `${s.percent}% of bytes`;
    case 'paths':
      return `paths ${s.paths.join(', ')}`;
    case 'full':
      return 'full snapshot';
  }
}

function html(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The evidence as a self-contained, print-ready HTML page: the quarter grid, then every test with its details. */
export function evidenceHtml(grid: EvidenceGrid, tests: readonly RestoreTestRecord[], generatedAt: string, appVersion: string): string {
  const head = grid.quarters.map((q) => `<th>${html(q)}</th>`).join('');
  const rows = grid.rows
    .map((r) => `<tr><th scope="row">${html(r.job)}</th>${r.cells.map((c) => `<td class="${c.verdict.replace(' ', '-')}">${html(c.verdict)}${c.tests > 0 ? ` (${c.passed}/${c.tests})` : ''}</td>`).join('')}</tr>`)
    .join('\n');
  const details = tests
    .map((t) => {
      const problems = [...t.mismatches.map((m) => `mismatch: ${m.path}: ${m.reason}`), ...t.notRestored.map((m) => `not restored: ${m.path}: ${m.reason}`)];
      return `<section class="test">
<h3>Test #${t.id}: ${html(t.jobName ?? `repository ${t.repositoryLocation}`)}, ${html(t.endedAt)}: <span class="${t.passed ? 'passed' : 'failed'}">${t.passed ? 'PASSED' : 'FAILED'}</span></h3>
<dl>
<dt>Repository</dt><dd>${html(t.repositoryLocation)} (${html(t.repositoryId.slice(0, 8))})</dd>
<dt>Snapshot</dt><dd>${html(t.snapshotId.slice(0, 8))}, taken ${html(t.snapshotTime)}</dd>
<dt>Scope</dt><dd>${html(scopeText(t.scope))} (seed ${t.seed}); ${t.filesPlanned} files, ${t.bytesPlanned} bytes planned</dd>
<dt>Restored</dt><dd>${t.filesRestored} files, ${t.bytesRestored} bytes; ${t.filesVerified} verified against the snapshot's content hashes, ${t.filesComparedWithSource} also against the live source</dd>
<dt>Duration</dt><dd>${(t.durationMs / 1000).toFixed(1)} s; full restore ${t.scope.kind === 'full' ? 'measured' : 'estimated'} at ${(t.estimatedFullRestoreMs / 60000).toFixed(1)} min${t.targetRtoMinutes === null ? '; no target RTO' : `; target RTO ${t.targetRtoMinutes} min: ${t.rtoMet ? 'met' : 'NOT met'}`}</dd>
<dt>Operator</dt><dd>${html(t.operator ?? 'not signed off')}${t.signedOffAt ? ` (${html(t.signedOffAt)})` : ''}${t.note ? `: ${html(t.note)}` : ''}</dd>
<dt>App version</dt><dd>${html(t.appVersion)}</dd>
</dl>
${problems.length ? `<ul class="problems">${problems.map((p) => `<li>${html(p)}</li>`).join('')}</ul>` : ''}
${t.failures.length ? `<p class="failures">Failed because: ${html(t.failures.join('; '))}</p>` : ''}
</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Restore test evidence ${html(grid.from.slice(0, 10))} to ${html(grid.to.slice(0, 10))}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #999;padding:.3em .6em;text-align:left}
td.passed{background:#dfd}td.failed{background:#fdd}td.not-tested{background:#eee}
span.passed{color:#060}span.failed{color:#a00}
section.test{page-break-inside:avoid;border-top:1px solid #ccc;margin-top:1em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
@media print{body{margin:0}}
</style></head>
<body>
<h1>Restore test evidence</h1>
<p>Period ${html(grid.from.slice(0, 10))} to ${html(grid.to.slice(0, 10))}. Generated ${html(generatedAt)} by ${html(appVersion)}.</p>
<h2>Tested and passed, per quarter</h2>
<table><thead><tr><th>Job</th>${head}</tr></thead><tbody>
${rows}
</tbody></table>
<h2>Tests (${tests.length})</h2>
${details || '<p>No restore tests in this period.</p>'}
</body></html>
`;
}
