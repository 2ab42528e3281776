/**
 * What the desktop shell shows about the whole app, computed without any host:
 * the tray's colour and reasons, the tray menu as data, the desktop
 * notification a finished run raises, and when a schedule pause ends. Pure:
 * the clock, the zone and the date formatter are passed in, so the Electron
 * shell, the headless host and the tests all get the same answers.
 */
import type { JobStatus } from './api.js';
import type { Job, RunRecord } from './jobs.js';
import { civilFromDays, clockFor, daysFromCivil, instantsOfLocalTime } from './schedule/zone.js';

export type TrayLevel = 'green' | 'amber' | 'red';

/** Jobs whose restore test is due, and those past it (`countRestoreTestsDue`). */
export interface RestoreTestsDue {
  due: number;
  overdue: number;
}

/**
 * Counts the jobs whose restore test is due or overdue, for the tray. A job
 * never tested counts as due once it has existed for one cadence (its first
 * test is due then), so a new job does not turn the tray amber on day one
 * but an untested one never stays green for long.
 */
export function countRestoreTestsDue(now: Date, jobs: readonly Pick<JobStatus, 'job' | 'restoreTest'>[]): RestoreTestsDue {
  let due = 0;
  let overdue = 0;
  for (const { job, restoreTest } of jobs) {
    if (restoreTest.state === 'overdue') overdue++;
    else if (restoreTest.state === 'due') due++;
    else if (restoreTest.state === 'never-tested' && now.getTime() - Date.parse(job.createdAt) >= job.restoreTest.cadenceDays * 86_400_000) due++;
  }
  return { due, overdue };
}

export interface TrayInput {
  jobs: JobStatus[];
  /** Failed runs nobody has acknowledged yet (newest first). */
  unacknowledgedFailures: RunRecord[];
  restoreTests?: RestoreTestsDue;
  /** End of the schedule pause (ISO), null when schedules run. */
  pausedUntil: string | null;
}

/** The tray icon's state: red for an unacknowledged failure, amber for warnings, green when all is well. */
export interface TrayState {
  level: TrayLevel;
  /** One line for the tooltip. */
  summary: string;
  /** Every reason behind the level, most serious first. */
  reasons: string[];
  /** Runs going on now (queued or running), for the tooltip and the icon's activity mark. */
  activeRuns: number;
}

/**
 * Red: a failed run not yet acknowledged. Amber: an RPO breached, a last run
 * partial or skipped, restore tests due or overdue, or schedules paused.
 * Green otherwise.
 */
export function trayState(input: TrayInput): TrayState {
  const red: string[] = [];
  const amber: string[] = [];
  const jobName = (id: number) => input.jobs.find((j) => j.job.id === id)?.job.name ?? `job ${id}`;
  for (const r of input.unacknowledgedFailures) red.push(`${jobName(r.jobId)}: run #${r.id} failed${r.error ? `: ${r.error}` : ''}`);
  for (const j of input.jobs) {
    if (j.rpo.breached) amber.push(`${j.job.name}: no successful backup within ${j.rpo.thresholdHours} h`);
    if (j.lastRun?.status === 'partial') amber.push(`${j.job.name}: last run was partial (${j.lastRun.errorCount} files unreadable)`);
    if (j.lastRun?.status === 'skipped') amber.push(`${j.job.name}: last scheduled run was skipped${j.lastRun.reason ? ` (${j.lastRun.reason})` : ''}`);
  }
  const rt = input.restoreTests;
  if (rt && rt.overdue > 0) amber.push(`${rt.overdue} restore test${rt.overdue === 1 ? ' is' : 's are'} overdue`);
  if (rt && rt.due > 0) amber.push(`${rt.due} restore test${rt.due === 1 ? ' is' : 's are'} due`);
  if (input.pausedUntil) amber.push(`schedules are paused until ${input.pausedUntil}`);
  const activeRuns = input.jobs.reduce((n, j) => n + j.active.length, 0);
  const level: TrayLevel = red.length > 0 ? 'red' : amber.length > 0 ? 'amber' : 'green';
  const reasons = [...red, ...amber];
  const summary =
    level === 'red'
      ? `${red.length} failed run${red.length === 1 ? '' : 's'} to look at`
      : level === 'amber'
        ? `${amber.length} warning${amber.length === 1 ? '' : 's'}`
        : input.jobs.length === 0
          ? 'no backup jobs yet'
          : 'all backups are fine';
  return { level, summary: activeRuns > 0 ? `${summary}; ${activeRuns} running` : summary, reasons, activeRuns };
}

/** What choosing a tray menu item does; the shell maps each to the service or its window. */
export type TrayAction =
  | { type: 'open'; runId?: number }
  | { type: 'run-now'; jobId: number }
  | { type: 'pause'; duration: PauseDuration }
  | { type: 'resume' }
  | { type: 'quit' };

/** One entry of the tray menu: a separator, a label (disabled when it has no action), or a submenu. */
export interface TrayMenuItem {
  label: string;
  enabled: boolean;
  action?: TrayAction;
  submenu?: TrayMenuItem[];
  separator?: boolean;
}

const SEPARATOR: TrayMenuItem = { label: '', enabled: false, separator: true };

/**
 * The tray menu: the overall state, then each job with its status and next
 * run ("Run now" inside), then Open, pause or resume, and Quit. `formatTime`
 * renders an ISO instant in the user's locale.
 */
export function trayMenu(state: TrayState, input: TrayInput, formatTime: (iso: string) => string): TrayMenuItem[] {
  const items: TrayMenuItem[] = [{ label: `Lifeboat: ${state.summary}`, enabled: state.level === 'red', ...(state.level === 'red' && input.unacknowledgedFailures[0] ? { action: { type: 'open', runId: input.unacknowledgedFailures[0].id } } : {}) }, SEPARATOR];
  for (const j of input.jobs) {
    const running = j.active.find((r) => r.status === 'running');
    const status = running ? `running${running.phase ? `: ${running.phase}` : ''}` : j.active.length > 0 ? 'queued' : j.lastRun ? `last run ${j.lastRun.status}` : 'never run';
    const next = !j.job.enabled ? 'disabled' : j.nextRun ? `next run ${formatTime(j.nextRun)}` : 'no scheduled run';
    items.push({
      label: `${j.job.name}: ${status}`,
      enabled: true,
      submenu: [
        { label: next, enabled: false },
        { label: 'Run now', enabled: running === undefined, action: { type: 'run-now', jobId: j.job.id } },
        ...(j.lastRun ? [{ label: `Open last run (#${j.lastRun.id})`, enabled: true, action: { type: 'open', runId: j.lastRun.id } as TrayAction }] : []),
      ],
    });
  }
  if (input.jobs.length > 0) items.push(SEPARATOR);
  items.push({ label: 'Open Lifeboat', enabled: true, action: { type: 'open' } });
  if (input.pausedUntil) {
    items.push({ label: `Resume schedules (paused until ${formatTime(input.pausedUntil)})`, enabled: true, action: { type: 'resume' } });
  } else {
    items.push({
      label: 'Pause all schedules',
      enabled: true,
      submenu: [
        { label: 'For 1 hour', enabled: true, action: { type: 'pause', duration: 'hour' } },
        { label: 'Until tomorrow', enabled: true, action: { type: 'pause', duration: 'tomorrow' } },
      ],
    });
  }
  items.push(SEPARATOR, { label: 'Quit Lifeboat', enabled: true, action: { type: 'quit' } });
  return items;
}

export type PauseDuration = 'hour' | 'tomorrow';
export const PAUSE_DURATIONS: readonly PauseDuration[] = ['hour', 'tomorrow'];

/**
 * When a pause started at `now` ends: an hour later, or at the next local
 * midnight in `zone` (the first instant of tomorrow: when clocks skip
 * midnight, the first wall time after it).
 */
export function pauseEnd(duration: PauseDuration, now: Date, zone: string): Date {
  if (duration === 'hour') return new Date(now.getTime() + 3600_000);
  const tm = clockFor(zone).localtime(Math.floor(now.getTime() / 1000));
  const tomorrow = civilFromDays(daysFromCivil(tm.year, tm.mon + 1, tm.mday) + 1);
  for (let hour = 0; hour < 24; hour++) {
    const instants = instantsOfLocalTime(zone, tomorrow.year, tomorrow.month, tomorrow.day, hour, 0, 0);
    if (instants.length > 0) return new Date(instants[0]! * 1000);
  }
  return new Date(now.getTime() + 86400_000);
}

/**
 * A desktop notification: about a finished run (clicking it opens that run), a
 * job's RPO breach (`jobId` only; clicking it opens the dashboard), or overdue
 * restore tests (both IDs null; clicking it opens the restore-test wizard).
 */
export interface RunNotification {
  runId: number | null;
  jobId: number | null;
  title: string;
  body: string;
  /** Failures ask for attention; successes do not. */
  urgency: 'critical' | 'normal';
}

/**
 * The notification a finished run raises under its job's mode: "errors"
 * for failed and partial runs, "always" for every finished run (cancelled
 * and skipped runs raise none), "never" for none.
 */
export function runNotification(run: RunRecord, job: Pick<Job, 'id' | 'name' | 'notify'>): RunNotification | null {
  if (job.notify === 'never') return null;
  const kind = run.kind === 'backup' ? 'Backup' : run.kind === 'prune' ? 'Prune' : run.kind === 'restore-test' ? 'Restore test' : 'Check';
  const base = { runId: run.id, jobId: job.id };
  if (run.status === 'failed') return { ...base, title: `${kind} of "${job.name}" failed`, body: run.error ?? 'see the run log', urgency: 'critical' };
  if (run.status === 'partial') return { ...base, title: `${kind} of "${job.name}" was partial`, body: `${run.errorCount} files could not be read; the snapshot has the rest`, urgency: 'critical' };
  if (job.notify === 'always' && run.status === 'success') return { ...base, title: `${kind} of "${job.name}" finished`, body: run.snapshotId ? `snapshot ${run.snapshotId.slice(0, 8)} saved` : 'finished without errors', urgency: 'normal' };
  return null;
}

/** Whether quitting now would interrupt work, and how long until it would not. */
export interface QuitReadiness {
  /** True when no run is running: quitting now loses nothing. */
  safe: boolean;
  running: { runId: number; jobId: number; kind: RunRecord['kind']; phase: string | null }[];
  /**
   * Estimated milliseconds until every running run has reached a safe point
   * when stopped now (packs in flight uploaded and indexed); null when it
   * cannot be estimated (no throughput measured yet, or maintenance running).
   */
  estimatedMs: number | null;
}
