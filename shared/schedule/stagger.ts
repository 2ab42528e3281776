import { nextElapses, parseCalendar } from './calendar.js';

/** A job as stagger advice needs it: where it writes and when it runs. */
export interface StaggerJob {
  id: number;
  name: string;
  /** Identifies the target (e.g. the repository location): jobs on one target compete for its IO. */
  target: string;
  schedule: string | null;
  enabled: boolean;
}

/** Jobs on the same target whose runs start within the same minute. */
export interface StaggerWarning {
  target: string;
  /** The minute (UTC ISO, seconds zeroed) in which they collide. */
  minute: string;
  jobs: { id: number; name: string }[];
  message: string;
}

/**
 * Lists collisions among the next `horizon` runs of each enabled job: jobs
 * on one target starting in the same minute (the editor suggests moving one).
 */
export function staggerAdvice(jobs: StaggerJob[], after: Date, timeZone: string, horizon = 20): StaggerWarning[] {
  const byKey = new Map<string, { target: string; minute: string; jobs: Map<number, string> }>();
  for (const j of jobs) {
    if (!j.enabled || !j.schedule) continue;
    let runs: Date[];
    try {
      runs = nextElapses(parseCalendar(j.schedule), after, timeZone, horizon);
    } catch {
      continue; // an invalid schedule is reported by validation, not here
    }
    for (const r of runs) {
      const minute = new Date(Math.floor(r.getTime() / 60000) * 60000).toISOString();
      const key = `${j.target}\n${minute}`;
      let e = byKey.get(key);
      if (!e) byKey.set(key, (e = { target: j.target, minute, jobs: new Map() }));
      e.jobs.set(j.id, j.name);
    }
  }
  const seen = new Set<string>();
  const out: StaggerWarning[] = [];
  for (const e of [...byKey.values()].sort((a, b) => a.minute.localeCompare(b.minute))) {
    if (e.jobs.size < 2) continue;
    const ids = [...e.jobs.keys()].sort((a, b) => a - b);
    const sig = `${e.target}\n${ids.join(',')}`;
    if (seen.has(sig)) continue; // report each colliding set once, at its first collision
    seen.add(sig);
    const names = ids.map((id) => e.jobs.get(id)!);
    out.push({
      target: e.target,
      minute: e.minute,
      jobs: ids.map((id) => ({ id, name: e.jobs.get(id)! })),
      message: `${names.join(', ')} start in the same minute (${e.minute.slice(0, 16).replace('T', ' ')} UTC) on ${e.target}; stagger them by a few minutes`,
    });
  }
  return out;
}
