/**
 * The retention preview (the prune simulator): which snapshots a policy
 * keeps, and by which rule, over the job's real snapshots and the snapshots
 * its schedule will make in the coming weeks. Pure; the service adds the
 * bytes a prune would free, from pack statistics.
 */
import type { RetentionPreviewEntry } from './api.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { nextElapses, parseCalendar } from './schedule/calendar.js';

/** A snapshot as the preview sees it; `id` null for simulated ones. */
export interface PreviewSnapshot {
  id: string | null;
  /** restic JSON time for real snapshots, ISO for simulated ones. */
  time: string;
  hostname?: string;
  paths: string[];
  tags?: string[];
}

/** Most simulated snapshots a preview makes (a minutely schedule over a year would be absurd to show). */
export const MAX_SIMULATED = 5000;

/** The snapshots `schedule` would make after `from`, up to `until` (at most MAX_SIMULATED). */
export function simulateSnapshots(schedule: string, from: Date, until: Date, timeZone: string, template: Omit<PreviewSnapshot, 'id' | 'time'>): PreviewSnapshot[] {
  const spec = parseCalendar(schedule);
  const out: PreviewSnapshot[] = [];
  let after = from;
  while (out.length < MAX_SIMULATED) {
    const batch = nextElapses(spec, after, timeZone, Math.min(500, MAX_SIMULATED - out.length));
    for (const t of batch) {
      if (t.getTime() > until.getTime()) return out;
      out.push({ ...template, id: null, time: t.toISOString() });
    }
    if (batch.length === 0) return out;
    after = batch[batch.length - 1]!;
  }
  return out;
}

/**
 * Applies `policy` to real and simulated snapshots together, as a prune at
 * the end of the horizon would see them. Entries come newest first, each
 * with keep/remove and restic's reasons.
 */
export function previewRetention(real: PreviewSnapshot[], simulated: PreviewSnapshot[], policy: RetentionPolicy, timeZone: string, now: Date): RetentionPreviewEntry[] {
  const inputs = [
    ...real.map((s, i) => ({ ...s, key: `real-${i}`, simulated: false })),
    ...simulated.map((s, i) => ({ ...s, key: `sim-${i}`, simulated: true })),
  ];
  const horizon = simulated.length ? new Date(Math.max(now.getTime(), ...simulated.map((s) => Date.parse(s.time)))) : now;
  const { groups } = applyRetention(
    inputs.map((s) => ({ id: s.key, time: s.simulated ? new Date(s.time) : s.time, paths: s.paths, ...(s.hostname ? { hostname: s.hostname } : {}), ...(s.tags ? { tags: s.tags } : {}) })),
    policy,
    { timeZone, now: horizon },
  );
  const byKey = new Map(inputs.map((s) => [s.key, s]));
  const entries: RetentionPreviewEntry[] = [];
  for (const g of groups) {
    for (const k of g.keep) {
      const s = byKey.get(k.id)!;
      entries.push({ snapshotId: s.id, time: s.time, simulated: s.simulated, keep: true, reasons: g.reasons.get(k.id) ?? [] });
    }
    for (const r of g.remove) {
      const s = byKey.get(r.id)!;
      entries.push({ snapshotId: s.id, time: s.time, simulated: s.simulated, keep: false, reasons: [] });
    }
  }
  return entries.sort((a, b) => timeOf(b.time) - timeOf(a.time));
}

function timeOf(t: string): number {
  // Go times carry nanoseconds; milliseconds are enough to order them.
  return Date.parse(t.replace(/(\.\d{3})\d+/, '$1'));
}
