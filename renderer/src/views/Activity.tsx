import { useEffect, useState } from 'react';
import type { RunRecord, RunStatus } from '../../../shared/jobs.js';
import { api, errorText } from '../api.js';
import { useLifeboatEvent, useOnReconnect } from '../events.js';
import { bytes, count, dateTime, duration, relative, runDuration } from '../format.js';
import { href } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { useLoad, useNow } from '../useLoad.js';

const LIMIT = 100;
const STATUS_FILTERS: { value: string; label: string; statuses: RunStatus[] | null }[] = [
  { value: '', label: 'Any status', statuses: null },
  { value: 'unacknowledged', label: 'Failed, not acknowledged', statuses: ['failed'] },
  { value: 'failed', label: 'Failed', statuses: ['failed'] },
  { value: 'partial', label: 'Partial', statuses: ['partial'] },
  { value: 'success', label: 'Succeeded', statuses: ['success'] },
  { value: 'active', label: 'Queued or running', statuses: ['queued', 'running'] },
  { value: 'skipped', label: 'Skipped or cancelled', statuses: ['skipped', 'cancelled'] },
];

/** Recent runs of every job, live; one run's details and log beside them. */
export function Activity({ runId }: { runId: number | null }) {
  const [jobFilter, setJobFilter] = useState('');
  const [statusFilter, setStatusFilter] = useState('');
  const jobs = useLoad(() => api.listJobs(), []);
  const filter = STATUS_FILTERS.find((f) => f.value === statusFilter)!;
  const matches = (r: RunRecord) => (!filter.statuses || filter.statuses.includes(r.status)) && (statusFilter !== 'unacknowledged' || !r.acknowledged);
  const runs = useLoad(
    async () => (await api.listRuns({ ...(jobFilter ? { jobId: Number(jobFilter) } : {}), ...(filter.statuses ? { statuses: filter.statuses } : {}), limit: LIMIT })).filter(matches),
    [jobFilter, statusFilter],
  );
  useNow(); // re-renders every 30 s so relative times stay true
  useOnReconnect(runs.reload);
  useLifeboatEvent('runChanged', (run) => {
    if (jobFilter && run.jobId !== Number(jobFilter)) return;
    runs.set((list) => {
      if (!list) return list;
      const i = list.findIndex((r) => r.id === run.id);
      if (!matches(run)) return i >= 0 ? list.filter((r) => r.id !== run.id) : list;
      if (i >= 0) return list.map((r) => (r.id === run.id ? run : r));
      return [run, ...list].slice(0, LIMIT);
    });
  });
  const names = new Map(jobs.data?.map((s) => [s.job.id, s.job.name]) ?? []);
  const selected = runId === null ? undefined : runs.data?.find((r) => r.id === runId);

  return (
    <section aria-labelledby="page-title">
      <PageHeading>Activity</PageHeading>
      <div className="toolbar">
        <label htmlFor="activity-job">Job</label>
        <select id="activity-job" value={jobFilter} onChange={(e) => setJobFilter(e.target.value)}>
          <option value="">All jobs</option>
          {jobs.data?.map((s) => (
            <option key={s.job.id} value={s.job.id}>
              {s.job.name}
            </option>
          ))}
        </select>
        <label htmlFor="activity-status">Status</label>
        <select id="activity-status" value={statusFilter} onChange={(e) => setStatusFilter(e.target.value)}>
          {STATUS_FILTERS.map((f) => (
            <option key={f.value} value={f.value}>
              {f.label}
            </option>
          ))}
        </select>
      </div>
      {runs.error && <p className="error" role="alert">Could not load the runs: {runs.error}</p>}
      <div className={runId !== null ? 'activity split' : 'activity'}>
        <div className="runs">
          {runs.data && runs.data.length === 0 && <p className="empty">No runs yet.</p>}
          {runs.data && runs.data.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Job</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Took</th>
                  <th scope="col">Added</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.map((r) => {
                  const took = runDuration(r);
                  const at = r.startedAt ?? r.queuedAt;
                  return (
                    <tr key={r.id} className={r.id === runId ? 'selected' : undefined} aria-selected={r.id === runId}>
                      <th scope="row">
                        <a href={href({ view: 'activity', runId: r.id })} aria-label={`Run ${r.id} details and log`}>
                          #{r.id}
                        </a>
                      </th>
                      <td>{names.get(r.jobId) ?? `job ${r.jobId}`}</td>
                      <td>
                        {r.kind} <span className="muted small">({r.trigger})</span>
                      </td>
                      <td>
                        <StatusBadge status={r.status} />
                        {!r.acknowledged && r.status === 'failed' && <span className="small"> unacknowledged</span>}
                      </td>
                      <td>
                        <time dateTime={at} title={dateTime(at, true)}>
                          {relative(at)}
                        </time>
                      </td>
                      <td>{took === null ? '' : duration(took)}</td>
                      <td>{r.endedAt && r.kind === 'backup' ? bytes(r.bytesAdded) : ''}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
        {runId !== null && <RunDetails runId={runId} run={selected} jobName={selected ? names.get(selected.jobId) : undefined} />}
      </div>
    </section>
  );
}

function RunDetails({ runId, run, jobName }: { runId: number; run: RunRecord | undefined; jobName: string | undefined }) {
  const [log, setLog] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const status = run?.status;
  useEffect(() => {
    let live = true;
    api.getRunLog(runId).then(
      (t) => live && setLog(t),
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
    // Reload the log whenever the run changes state.
  }, [runId, status]);
  const acknowledge = async () => {
    try {
      await api.acknowledgeRun(runId);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <aside className="run-details" aria-labelledby="run-details-title">
      <h2 id="run-details-title">
        Run #{runId}
        {jobName ? ` of ${jobName}` : ''}
      </h2>
      {run && (
        <dl>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={run.status} /> {run.phase && <span className="muted">{run.phase}</span>}
          </dd>
          <dt>Trigger</dt>
          <dd>
            {run.kind}, {run.trigger}
            {run.scheduledFor && ` for ${dateTime(run.scheduledFor)}`}
          </dd>
          <dt>Queued</dt>
          <dd>{dateTime(run.queuedAt, true)}</dd>
          {run.startedAt && (
            <>
              <dt>Started</dt>
              <dd>{dateTime(run.startedAt, true)}</dd>
            </>
          )}
          {run.endedAt && (
            <>
              <dt>Ended</dt>
              <dd>{dateTime(run.endedAt, true)}</dd>
            </>
          )}
          {run.kind === 'backup' && run.endedAt && (
            <>
              <dt>Files</dt>
              <dd>
                {count(run.filesNew)} new, {count(run.filesChanged)} changed, {count(run.filesUnmodified)} unmodified
                {run.errorCount > 0 && `, ${count(run.errorCount)} unreadable`}
              </dd>
              <dt>Data</dt>
              <dd>
                {bytes(run.bytesProcessed)} processed, {bytes(run.bytesAdded)} added
              </dd>
            </>
          )}
          {run.snapshotId && (
            <>
              <dt>Snapshot</dt>
              <dd>
                <code>{run.snapshotId.slice(0, 8)}</code>
              </dd>
            </>
          )}
          {(run.error ?? run.reason) && (
            <>
              <dt>{run.error ? 'Error' : 'Reason'}</dt>
              <dd className={run.error ? 'error' : undefined}>{run.error ?? run.reason}</dd>
            </>
          )}
        </dl>
      )}
      {run && run.status === 'failed' && !run.acknowledged && (
        <button type="button" onClick={acknowledge}>
          Acknowledge failure
        </button>
      )}
      {log && <RunPhases log={log} />}
      <h3>Log</h3>
      {error && <p className="error">{error}</p>}
      <pre className="log" tabIndex={0} aria-label={`Log of run ${runId}`}>
        {log ?? 'Loading…'}
        {log === '' && '(empty)'}
      </pre>
    </aside>
  );
}

/** The phases a run went through, read from its log ("<time> phase: …", and the pre/post-command and queue lines). */
function RunPhases({ log }: { log: string }) {
  const phases = log
    .split('\n')
    .map((line) => /^(\d{4}-\d\d-\d\dT[\d:.]+Z) ((?:phase|queued|pre-command|post-command|snapshot|failed|cancelled|forget|prune|checked)\b.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null);
  if (phases.length === 0) return null;
  return (
    <>
      <h3>Phases</h3>
      <ol className="phases" aria-label="Phases">
        {phases.map((m, i) => (
          <li key={i}>
            <time dateTime={m[1]}>{dateTime(m[1]!, true)}</time> {m[2]!.replace(/^phase: /, '')}
          </li>
        ))}
      </ol>
    </>
  );
}
