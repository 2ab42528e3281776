import { useState } from 'react';
import type { JobStatus } from '../../../shared/api.js';
import type { RunRecord } from '../../../shared/jobs.js';
import type { OperationProgress } from '../../../shared/progress.js';
import { api, errorText } from '../api.js';
import { useLifeboatEvent, useOnReconnect } from '../events.js';
import { bytes, dateTime, duration, relative, runDuration } from '../format.js';
import { href } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { RestoreTestDueBadge } from '../components/RestoreTestDueBadge.js';
import { RunProgress } from '../components/RunProgress.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { AppStatusBanner } from '../components/AppStatusBanner.js';
import { useNotice } from '../components/Notice.js';
import { useLoad, useNow, useThrottled } from '../useLoad.js';

const FINAL = new Set(['success', 'partial', 'failed', 'skipped', 'cancelled']);

/** Every job at a glance: state, last run, next run and why, RPO, live progress of what runs now. */
export function Dashboard() {
  const jobs = useLoad(() => api.listJobs(), []);
  const [progress, setProgress] = useState<Map<number, OperationProgress>>(new Map());
  useNow(); // re-renders every 30 s so relative times stay true
  const reload = useThrottled(jobs.reload, 250);
  useOnReconnect(jobs.reload);

  useLifeboatEvent('runProgress', ({ runId, progress: p }) => setProgress((m) => new Map(m).set(runId, p)));
  useLifeboatEvent('runChanged', (run) => {
    // Show the new state at once, then reload for what the service derives from it (next run, RPO).
    jobs.set((list) => list?.map((s) => (s.job.id === run.jobId ? applyRun(s, run) : s)));
    if (FINAL.has(run.status)) {
      setProgress((m) => {
        const next = new Map(m);
        next.delete(run.id);
        return next;
      });
    }
    reload();
  });

  const list = jobs.data;
  const running = list?.reduce((n, s) => n + s.active.filter((r) => r.status === 'running').length, 0) ?? 0;
  const failing = list?.filter((s) => s.lastRun?.status === 'failed').length ?? 0;
  const breached = list?.filter((s) => s.rpo.breached).length ?? 0;

  return (
    <section aria-labelledby="page-title">
      <PageHeading actions={<a className="button" href={href({ view: 'job-new' })}>New job</a>}>Dashboard</PageHeading>
      <AppStatusBanner />
      {jobs.error && <p className="error" role="alert">Could not load the jobs: {jobs.error}</p>}
      {list && (
        <ul className="summary" aria-label="Summary">
          <li><strong>{list.length}</strong> {list.length === 1 ? 'job' : 'jobs'}</li>
          <li className={running ? 'summary-running' : ''}><strong>{running}</strong> running</li>
          <li className={failing ? 'summary-bad' : ''}><strong>{failing}</strong> failed last time</li>
          <li className={breached ? 'summary-bad' : ''}><strong>{breached}</strong> RPO breached</li>
        </ul>
      )}
      {list && list.length === 0 && (
        <div className="empty">
          <p>No backup jobs yet.</p>
          <a className="button primary" href={href({ view: 'setup' })}>Set up your first backup</a>{' '}
          <a className="button" href={href({ view: 'job-new' })}>Create a job by hand</a>
        </div>
      )}
      {list && list.length > 0 && (
        <table className="dashboard">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">State</th>
              <th scope="col">Last run</th>
              <th scope="col">Next run</th>
              <th scope="col">RPO</th>
              <th scope="col">Restore test</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          {list.map((s) => (
            <JobRows key={s.job.id} status={s} progress={progress} onStarted={reload} />
          ))}
        </table>
      )}
    </section>
  );
}

/** The job's status with a run's new state folded in (until the reload answers). */
function applyRun(s: JobStatus, run: RunRecord): JobStatus {
  const others = s.active.filter((r) => r.id !== run.id);
  const active = FINAL.has(run.status) ? others : [...others, run].sort((a, b) => a.id - b.id);
  const lastRun = !s.lastRun || run.id >= s.lastRun.id ? run : s.lastRun;
  return { ...s, active, lastRun };
}

function JobRows({ status: s, progress, onStarted }: { status: JobStatus; progress: Map<number, OperationProgress>; onStarted: () => void }) {
  const { notify } = useNotice();
  const [starting, setStarting] = useState(false);
  const runNow = async () => {
    setStarting(true);
    try {
      const run = await api.runNow(s.job.id);
      notify(`${s.job.name}: run ${run.id} ${run.status === 'queued' ? 'queued' : 'started'}.`);
      onStarted();
    } catch (e) {
      notify(`${s.job.name}: could not start: ${errorText(e)}`, 'error');
    } finally {
      setStarting(false);
    }
  };
  const running = s.active.find((r) => r.status === 'running');
  const queued = s.active.find((r) => r.status === 'queued');
  return (
    <tbody className="job" data-job={s.job.name}>
      <tr>
        <th scope="row">
          <a href={href({ view: 'job-edit', jobId: s.job.id })}>{s.job.name}</a>
          <div className="muted small">{s.job.sources.paths.join(', ')}</div>
        </th>
        <td className="state">
          {running ? (
            <StatusBadge status="running" />
          ) : queued ? (
            <StatusBadge status="queued" />
          ) : !s.job.enabled ? (
            <span className="badge badge-disabled">Disabled</span>
          ) : (
            <span className="badge badge-idle">Idle</span>
          )}
        </td>
        <td className="last-run">
          {s.lastRun ? <LastRun run={s.lastRun} /> : <span className="muted">Never run</span>}
        </td>
        <td className="next-run">
          {s.nextRun ? (
            <>
              <time dateTime={s.nextRun} title={dateTime(s.nextRun, true)}>
                {dateTime(s.nextRun)}
              </time>{' '}
              <span className="muted">({relative(s.nextRun)})</span>
            </>
          ) : (
            <span className="muted">Not scheduled</span>
          )}
          <div className="reason small">{s.nextRunReason}</div>
        </td>
        <td className="rpo">
          {s.rpo.thresholdHours === null ? (
            <span className="muted">No watchdog</span>
          ) : s.rpo.breached ? (
            <span className="badge badge-failed" title={`No successful backup in the last ${s.rpo.thresholdHours} h`}>
              Breached
            </span>
          ) : (
            <span className="badge badge-success">Within {s.rpo.thresholdHours} h</span>
          )}
          {s.rpo.thresholdHours !== null && (
            <div className="small muted">
              {s.rpo.lastSuccessAt ? `last success ${relative(s.rpo.lastSuccessAt)}` : 'no success yet'}
            </div>
          )}
        </td>
        <td className="restore-test">
          <RestoreTestDueBadge due={s.restoreTest} />
          <a className="small" href={href({ view: 'restore-test', jobId: s.job.id })} aria-label={`Test a restore of ${s.job.name}`}>
            Test a restore
          </a>
        </td>
        <td className="actions">
          <button type="button" onClick={runNow} disabled={starting} aria-label={`Run ${s.job.name} now`}>
            {starting ? 'Starting…' : 'Run now'}
          </button>
        </td>
      </tr>
      {s.active.map((r) => (
        <tr key={r.id} className="active-run">
          <td colSpan={7}>
            <span className="small">
              Run {r.id} ({r.trigger}):
            </span>{' '}
            <RunProgress run={r} progress={progress.get(r.id)} />
          </td>
        </tr>
      ))}
    </tbody>
  );
}

function LastRun({ run }: { run: RunRecord }) {
  const at = run.endedAt ?? run.startedAt ?? run.queuedAt;
  const took = runDuration(run);
  return (
    <>
      <StatusBadge status={run.status} />{' '}
      <time dateTime={at} title={dateTime(at, true)}>
        {relative(at)}
      </time>
      <div className="small">
        {took !== null && <span>took {duration(took)}</span>}
        {run.status !== 'skipped' && run.endedAt && <span> · {bytes(run.bytesAdded)} added</span>}
        {run.errorCount > 0 && <span> · {run.errorCount} unreadable</span>}
      </div>
      {(run.error ?? (run.status === 'skipped' ? run.reason : null)) && (
        <div className="small reason">{run.error ?? run.reason}</div>
      )}
      <a className="small" href={href({ view: 'activity', runId: run.id })}>
        Log
      </a>
    </>
  );
}
