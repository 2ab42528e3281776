/**
 * The scheduler's whole decision, as a pure function of the clock, the job
 * and its history (Backrest's shape): timers only call it and carry out what
 * it says. Everything it decides comes with a reason an admin can read.
 */
import type { JobConfig, RunTrigger } from '../jobs.js';
import { nextElapse, parseCalendar, type CalendarSpec } from './calendar.js';

/** What the scheduler knows about a job's past and present. */
export interface ScheduleHistory {
  /** When the job was created: the first slot considered is the first one after it. */
  createdAt: Date;
  /** The latest scheduled slot already handled (run, queued or skipped). */
  lastScheduledFor: Date | null;
  /** Runs of this job in progress, with whether each has finished reading its sources. */
  running: { runId: number; readingDone: boolean }[];
  /** Runs of this job waiting to start. */
  queued: number;
}

export type ScheduleDecision =
  /** Nothing to do now. `nextRun` is when the next slot elapses (null: never). */
  | { kind: 'wait'; nextRun: Date | null; reason: string }
  /** Start a run for `scheduledFor` now. */
  | { kind: 'run'; trigger: Exclude<RunTrigger, 'manual'>; scheduledFor: Date; missed: number; nextRun: Date | null; reason: string }
  /** Record a queued run for `scheduledFor`; it starts when the previous run allows. */
  | { kind: 'queue'; trigger: Exclude<RunTrigger, 'manual'>; scheduledFor: Date; missed: number; nextRun: Date | null; reason: string }
  /** Record `scheduledFor` as skipped, with the reason. */
  | { kind: 'skip'; scheduledFor: Date; missed: number; nextRun: Date | null; reason: string };

/** A slot noticed later than this after its time was missed (app closed, machine asleep), not merely late. */
export const MISSED_GRACE_MS = 60_000;
/** Never walk more slots than this when collapsing a long absence into one run. */
const MAX_COLLAPSE = 100_000;

const specCache = new Map<string, CalendarSpec>();
function spec(expr: string): CalendarSpec {
  let s = specCache.get(expr);
  if (!s) {
    s = parseCalendar(expr);
    specCache.set(expr, s);
  }
  return s;
}

function iso(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/**
 * Decides what to do for `job` at `now`. Pure: same inputs, same answer.
 * - Slots elapse per the job's calendar expression in `timeZone` (unless the
 *   expression names its own zone).
 * - Several slots elapsed since the last handled one (a sleeping machine, a
 *   closed app, a clock jump) collapse into ONE decision for the latest of
 *   them: caught up once (trigger catch-up) or skipped when catch-up is off.
 * - A run still going applies the overlap policy: skip; queue (at most one
 *   waiting run); parallel (start once the previous run has finished reading
 *   its sources, otherwise queue; never skip).
 * - Manual runs are not in `lastScheduledFor`, so "run now" never moves or
 *   skips a scheduled slot.
 */
export function next(now: Date, job: Pick<JobConfig, 'enabled' | 'schedule' | 'catchUp' | 'overlap'>, history: ScheduleHistory, timeZone: string): ScheduleDecision {
  if (!job.enabled) return { kind: 'wait', nextRun: null, reason: 'job is disabled' };
  if (!job.schedule) return { kind: 'wait', nextRun: null, reason: 'no schedule: runs only when started by hand' };
  const cal = spec(job.schedule);
  const anchor = history.lastScheduledFor ?? history.createdAt;
  const due = nextElapse(cal, anchor, timeZone);
  if (!due) return { kind: 'wait', nextRun: null, reason: `the schedule "${job.schedule}" has no further elapse` };
  if (due.getTime() > now.getTime()) return { kind: 'wait', nextRun: due, reason: `next run ${iso(due)} (${job.schedule})` };

  // One or more slots have elapsed: collapse them into the latest.
  let latest = due;
  let count = 1;
  for (;;) {
    const n = nextElapse(cal, latest, timeZone);
    if (!n || n.getTime() > now.getTime() || count >= MAX_COLLAPSE) break;
    latest = n;
    count++;
  }
  const nextRun = nextElapse(cal, latest, timeZone);
  const lateMs = now.getTime() - latest.getTime();
  const missed = lateMs > MISSED_GRACE_MS ? count : count - 1;
  const missedText = `${count} scheduled run${count === 1 ? '' : 's'} (latest due ${iso(latest)})`;
  let trigger: 'schedule' | 'catch-up' = 'schedule';
  let why = `scheduled for ${iso(latest)}`;
  if (lateMs > MISSED_GRACE_MS) {
    if (!job.catchUp) return { kind: 'skip', scheduledFor: latest, missed, nextRun, reason: `missed ${missedText} while Lifeboat was not running; catch-up is off` };
    trigger = 'catch-up';
    why = `catching up once for ${missedText} missed while Lifeboat was not running`;
  } else if (count > 1) {
    why += ` (${count - 1} earlier slot${count === 2 ? '' : 's'} folded into this run)`;
  }

  if (history.running.length > 0) {
    const prev = `run #${history.running[0]!.runId} is still going`;
    switch (job.overlap) {
      case 'skip':
        return { kind: 'skip', scheduledFor: latest, missed, nextRun, reason: `${prev} (overlap policy: skip)` };
      case 'queue':
        if (history.queued > 0) return { kind: 'skip', scheduledFor: latest, missed, nextRun, reason: `${prev} and a run is already queued (overlap policy: queue keeps at most one)` };
        return { kind: 'queue', trigger, scheduledFor: latest, missed, nextRun, reason: `${why}; queued because ${prev} (overlap policy: queue)` };
      case 'parallel':
        if (history.running.every((r) => r.readingDone)) {
          return { kind: 'run', trigger, scheduledFor: latest, missed, nextRun, reason: `${why}; starts alongside run #${history.running[0]!.runId}, which is only uploading (overlap policy: parallel)` };
        }
        if (history.queued > 0) return { kind: 'skip', scheduledFor: latest, missed, nextRun, reason: `${prev}, still reading its sources, and a run is already queued` };
        return { kind: 'queue', trigger, scheduledFor: latest, missed, nextRun, reason: `${why}; queued until ${prev.replace(' is still going', '')} finishes reading its sources (overlap policy: parallel)` };
    }
  }
  return { kind: 'run', trigger, scheduledFor: latest, missed, nextRun, reason: why };
}
