/**
 * The guided restore test: 1 job and snapshot, 2 scope and sandbox, 3 run with progress and ETA,
 * 4 results (with the RTO), 5 sign-off and the evidence export. Every step can go back; the
 * service validates everything and its field-named errors are shown next to the field.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { RestoreTestRequest } from '../../../shared/api.js';
import type { RunRecord } from '../../../shared/jobs.js';
import type { OperationProgress } from '../../../shared/progress.js';
import type { Snapshot } from '../../../shared/repo/types.js';
import { scopeText, type RestoreTestRecord, type RestoreTestScope } from '../../../shared/restore-test.js';
import { api, ApiError, errorText } from '../api.js';
import { useLifeboatEvent } from '../events.js';
import { bytes, count, dateTime, duration, relative } from '../format.js';
import { href } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { RestoreTestDueBadge } from '../components/RestoreTestDueBadge.js';
import { RunProgress } from '../components/RunProgress.js';
import { useLoad } from '../useLoad.js';
import './restore-test.css';

const STEPS = ['Job and snapshot', 'Scope and sandbox', 'Run', 'Results', 'Sign-off'] as const;
const FINAL = new Set(['success', 'partial', 'failed', 'skipped', 'cancelled']);

type ScopeKind = RestoreTestScope['kind'];

/** A Go RFC 3339 time (nanoseconds) as JavaScript reads it. */
function snapshotIso(goTime: string): string {
  return new Date(goTime.replace(/(\.\d{3})\d+/, '$1')).toISOString();
}

export function RestoreTestWizard({ jobId: initialJob }: { jobId: number | null }) {
  const [step, setStep] = useState(0);
  const jobs = useLoad(() => api.listJobs(), []);
  const [jobId, setJobId] = useState<number | null>(initialJob);
  const status = jobs.data?.find((s) => s.job.id === jobId);
  const job = status?.job;

  useEffect(() => {
    if (jobId === null && jobs.data && jobs.data.length > 0) setJobId(jobs.data[0]!.job.id);
  }, [jobs.data, jobId]);

  const snapshots = useLoad(async (): Promise<Snapshot[]> => {
    if (!job) return [];
    const paths = JSON.stringify([...job.sources.paths].sort());
    const all = await api.listSnapshots(job.repositoryId);
    return all.filter((s) => JSON.stringify([...s.paths].sort()) === paths).reverse();
  }, [job?.id]);
  const [snapshotId, setSnapshotId] = useState<string>('');
  useEffect(() => setSnapshotId(''), [job?.id]);
  const snapshot = snapshots.data?.find((s) => s.id === snapshotId) ?? snapshots.data?.[0];

  // Step 2: scope and sandbox, defaulting to the job's policy.
  const [scopeKind, setScopeKind] = useState<ScopeKind>('sample');
  const [files, setFiles] = useState('50');
  const [percent, setPercent] = useState('5');
  const [paths, setPaths] = useState('');
  const [seed, setSeed] = useState('');
  const [sandboxParent, setSandboxParent] = useState('');
  const [keepSandbox, setKeepSandbox] = useState(false);
  const [sourceDir, setSourceDir] = useState('');
  useEffect(() => {
    const sc = job?.restoreTest.scope;
    if (!sc) return;
    setScopeKind(sc.kind);
    if (sc.kind === 'sample') setFiles(String(sc.files));
    if (sc.kind === 'percent') setPercent(String(sc.percent));
    if (sc.kind === 'paths') setPaths(sc.paths.join('\n'));
  }, [job?.id]);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});

  // Step 3: the run.
  const [run, setRun] = useState<RunRecord | null>(null);
  const [progress, setProgress] = useState<OperationProgress | undefined>(undefined);
  const [runError, setRunError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const [record, setRecord] = useState<RestoreTestRecord | null>(null);
  const running = run !== null && !FINAL.has(run.status);

  useLifeboatEvent('runProgress', (p) => {
    if (run && p.runId === run.id) setProgress(p.progress);
  });
  useLifeboatEvent('runChanged', (r) => {
    if (!run || r.id !== run.id) return;
    setRun(r);
    if (FINAL.has(r.status)) void finished(r);
  });

  const finished = async (r: RunRecord) => {
    try {
      const [t] = await api.listRestoreTests({ runId: r.id });
      if (t) {
        setRecord(t);
        setStep(3);
      } else {
        setRunError(r.status === 'cancelled' ? 'The test was cancelled.' : `The test could not be carried out: ${r.error ?? r.status}`);
      }
    } catch (e) {
      setRunError(errorText(e));
    }
  };

  // Events can outrun the answer that names the run: look it up too while it goes.
  useEffect(() => {
    if (!run || FINAL.has(run.status)) return;
    const t = setInterval(() => {
      void api.listRuns({ jobId: run.jobId, limit: 20 }).then((list) => {
        const r = list.find((x) => x.id === run.id);
        if (r && FINAL.has(r.status)) {
          setRun(r);
          void finished(r);
        }
      });
    }, 1500);
    return () => clearInterval(t);
  }, [run?.id, run?.status]);

  const scope = (): RestoreTestScope | unknown => {
    switch (scopeKind) {
      case 'sample':
        return { kind: 'sample', files: Number(files) };
      case 'percent':
        return { kind: 'percent', percent: Number(percent) };
      case 'paths':
        return { kind: 'paths', paths: paths.split('\n').map((p) => p.trim()).filter(Boolean) };
      case 'full':
        return { kind: 'full' };
    }
  };

  const start = async () => {
    if (!job) return;
    setStarting(true);
    setRunError(null);
    setFieldErrors({});
    setRecord(null);
    setProgress(undefined);
    const request: RestoreTestRequest = {
      jobId: job.id,
      scope: scope(),
      ...(snapshot && snapshotId ? { snapshotId: snapshot.id } : {}),
      ...(seed.trim() ? { seed: Number(seed) } : {}),
      ...(sandboxParent.trim() ? { sandboxParent: sandboxParent.trim() } : {}),
      ...(keepSandbox ? { keepSandbox: true } : {}),
      ...(sourceDir.trim() ? { sourceDir: sourceDir.trim() } : {}),
    };
    try {
      const r = await api.startRestoreTest(request);
      setRun(r);
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        // A setting of step 2 was refused: show it there, next to its field.
        setFieldErrors({ [e.field.startsWith('scope') ? 'scope' : e.field]: errorText(e, true) });
        setStep(1);
      } else setRunError(errorText(e));
    } finally {
      setStarting(false);
    }
  };

  const cancel = async () => {
    if (run) await api.cancelRun(run.id).catch((e: unknown) => setRunError(errorText(e)));
  };

  const stepHeading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // A refused setting sent the admin back here and took the focus (its effect runs first): leave it there.
    if (document.activeElement?.getAttribute('aria-invalid') === 'true') return;
    stepHeading.current?.focus();
  }, [step]);

  const back = step > 0 && !(step === 2 && running) ? () => setStep(step - 1) : undefined;

  return (
    <section aria-labelledby="page-title" className="restore-test-wizard">
      <PageHeading>Restore test</PageHeading>
      <ol className="wizard-steps" aria-label="Steps">
        {STEPS.map((label, i) => (
          <li key={label} aria-current={i === step ? 'step' : undefined} className={i < step ? 'done' : ''}>
            <span className="step-number">{i + 1}</span> {label}
          </li>
        ))}
      </ol>
      {jobs.error && <p className="error" role="alert">Could not load the jobs: {jobs.error}</p>}
      {jobs.data && jobs.data.length === 0 && (
        <div className="empty">
          <p>No jobs yet: a restore test proves a job's backups.</p>
          <a className="button" href={href({ view: 'job-new' })}>Create a job</a>
        </div>
      )}
      {jobs.data && jobs.data.length > 0 && (
        <div className="wizard-panel">
          <h2 ref={stepHeading} tabIndex={-1}>
            Step {step + 1} of 5: {STEPS[step]}
          </h2>

          {step === 0 && (
            <Step
              next={() => setStep(1)}
              nextDisabled={!job || !snapshot}
            >
              <div className="field">
                <label htmlFor="rt-job">Job</label>
                <select id="rt-job" value={jobId ?? ''} onChange={(e) => setJobId(Number(e.target.value))}>
                  {jobs.data.map((s) => (
                    <option key={s.job.id} value={s.job.id}>
                      {s.job.name}
                    </option>
                  ))}
                </select>
                {status && (
                  <p className="help">
                    Restore test: <RestoreTestDueBadge due={status.restoreTest} />
                  </p>
                )}
                {job && (
                  <p className="help job-policy">
                    Policy: a passing test every {job.restoreTest.cadenceDays} days (due soon {job.restoreTest.dueSoonDays} days before);
                    {' '}target RTO {job.restoreTest.targetRtoMinutes === null ? 'not set' : `${job.restoreTest.targetRtoMinutes} min`};
                    {' '}{job.restoreTest.drillSchedule ? <>automatic drills <code>{job.restoreTest.drillSchedule}</code></> : 'no automatic drills'}.
                  </p>
                )}
              </div>
              <div className="field">
                <label htmlFor="rt-snapshot">Snapshot</label>
                {snapshots.error && <p className="field-error">Could not list the snapshots: {snapshots.error}</p>}
                {snapshots.data && snapshots.data.length === 0 && <p className="field-error">This job has no snapshot yet: run a backup first.</p>}
                {snapshots.data && snapshots.data.length > 0 && (
                  <select id="rt-snapshot" value={snapshotId} onChange={(e) => setSnapshotId(e.target.value)}>
                    <option value="">Latest ({snapshots.data[0]!.id.slice(0, 8)}, {dateTime(snapshotIso(snapshots.data[0]!.time))})</option>
                    {snapshots.data.map((s) => (
                      <option key={s.id} value={s.id}>
                        {s.id.slice(0, 8)}, {dateTime(snapshotIso(s.time))}
                      </option>
                    ))}
                  </select>
                )}
                {snapshot && (
                  <p className="help snapshot-facts">
                    Snapshot {snapshot.id.slice(0, 8)}: taken {relative(snapshotIso(snapshot.time))}
                    {snapshot.summary ? `, ${bytes(snapshot.summary.total_bytes_processed)} in ${count(snapshot.summary.total_files_processed)} files` : ''}
                    {snapshot.hostname ? `, from ${snapshot.hostname}` : ''}
                  </p>
                )}
              </div>
            </Step>
          )}

          {step === 1 && (
            <Step back={back} next={() => setStep(2)}>
              <fieldset className={fieldErrors.scope ? 'field has-error' : 'field'}>
                <legend>What to restore</legend>
                <ScopeOption kind="sample" current={scopeKind} set={setScopeKind} label="A random sample of files">
                  <input aria-label="Number of files" type="number" min={1} value={files} onChange={(e) => setFiles(e.target.value)} disabled={scopeKind !== 'sample'} /> files, stratified over sizes and folders
                </ScopeOption>
                <ScopeOption kind="percent" current={scopeKind} set={setScopeKind} label="A random sample by size">
                  <input aria-label="Percent of bytes" type="number" min={0.1} max={100} step="any" value={percent} onChange={(e) => setPercent(e.target.value)} disabled={scopeKind !== 'percent'} /> % of the bytes
                </ScopeOption>
                <ScopeOption kind="paths" current={scopeKind} set={setScopeKind} label="Chosen folders or files">
                  <textarea aria-label="Paths, one per line" rows={2} value={paths} onChange={(e) => setPaths(e.target.value)} disabled={scopeKind !== 'paths'} placeholder={job?.sources.paths[0]} />
                </ScopeOption>
                <ScopeOption kind="full" current={scopeKind} set={setScopeKind} label="The whole snapshot" />
                {fieldErrors.scope && <p className="field-error" role="alert">{fieldErrors.scope}</p>}
              </fieldset>
              <div className="field-pair">
                <TextField id="rt-sandbox" label="Sandbox folder" value={sandboxParent} set={setSandboxParent} error={fieldErrors.sandboxParent} help="A fresh folder is made inside (free space checked first). Empty: the temporary folder." />
                <TextField id="rt-source" label="Live source folder (optional)" value={sourceDir} set={setSourceDir} error={fieldErrors.sourceDir} help="Where the job's source folder lives now, if it moved; unchanged files are compared with it." />
                <TextField id="rt-seed" label="Seed (optional)" value={seed} set={setSeed} error={fieldErrors.seed} help="Draws the same sample as an earlier test with this seed." />
                <div className="field checkbox">
                  <input id="rt-keep" type="checkbox" checked={keepSandbox} onChange={(e) => setKeepSandbox(e.target.checked)} />
                  <label htmlFor="rt-keep">Keep the restored files afterwards</label>
                </div>
              </div>
            </Step>
          )}

          {step === 2 && (
            <Step back={back} next={record ? () => setStep(3) : undefined} nextLabel="Results">
              <dl className="plan">
                <dt>Job</dt>
                <dd>{job?.name}</dd>
                <dt>Snapshot</dt>
                <dd>{snapshot ? `${snapshot.id.slice(0, 8)}${snapshotId ? '' : ' (latest)'}` : '-'}</dd>
                <dt>Scope</dt>
                <dd>{scopeText(scope() as RestoreTestScope)}</dd>
                <dt>Sandbox</dt>
                <dd>{sandboxParent.trim() || 'the temporary folder'}{keepSandbox ? ', kept afterwards' : ', removed afterwards'}</dd>
                <dt>Target RTO</dt>
                <dd>{job?.restoreTest.targetRtoMinutes ? `${job.restoreTest.targetRtoMinutes} min` : 'none set'}</dd>
              </dl>
              {!running && (
                <button type="button" className="primary" onClick={start} disabled={starting}>
                  {starting ? 'Starting…' : run ? 'Run the test again' : 'Start the test'}
                </button>
              )}
              {run && (
                <div className="run-status" aria-live="polite">
                  <p>
                    Run {run.id}: <strong>{run.status}</strong>
                  </p>
                  {running && <RunProgress run={run} progress={progress} />}
                  {running && (
                    <button type="button" className="secondary" onClick={cancel}>
                      Cancel the test
                    </button>
                  )}
                </div>
              )}
              {runError && <p className="error" role="alert">{runError}</p>}
            </Step>
          )}

          {step === 3 && record && (
            <Step back={back} next={() => setStep(4)} nextLabel="Sign off">
              <Results record={record} />
            </Step>
          )}

          {step === 4 && record && <SignOff record={record} onSigned={setRecord} back={back} />}
        </div>
      )}
    </section>
  );
}

function Step({ children, back, next, nextLabel = 'Next', nextDisabled }: { children: ReactNode; back?: (() => void) | undefined; next?: (() => void) | undefined; nextLabel?: string; nextDisabled?: boolean }) {
  return (
    <>
      {children}
      <div className="form-actions">
        <button type="button" className="secondary" onClick={back} disabled={!back}>
          Back
        </button>
        {next && (
          <button type="button" className="primary" onClick={next} disabled={nextDisabled}>
            {nextLabel}
          </button>
        )}
      </div>
    </>
  );
}

function ScopeOption({ kind, current, set, label, children }: { kind: ScopeKind; current: ScopeKind; set: (k: ScopeKind) => void; label: string; children?: ReactNode }) {
  return (
    <div className="scope-option">
      <input type="radio" id={`rt-scope-${kind}`} name="rt-scope" checked={current === kind} onChange={() => set(kind)} />
      <label htmlFor={`rt-scope-${kind}`}>{label}</label>
      {children && <div className="scope-detail">{children}</div>}
    </div>
  );
}

function TextField({ id, label, value, set, error, help }: { id: string; label: string; value: string; set: (v: string) => void; error?: string | undefined; help: string }) {
  const input = useRef<HTMLInputElement>(null);
  // A refused setting takes focus (and scrolls into view), so the error is where the admin is.
  useEffect(() => {
    if (error) input.current?.focus();
  }, [error]);
  return (
    <div className={error ? 'field has-error' : 'field'}>
      <label htmlFor={id}>{label}</label>
      <input ref={input} id={id} value={value} onChange={(e) => set(e.target.value)} aria-describedby={`${id}-help`} aria-invalid={error ? true : undefined} />
      <p className="help" id={`${id}-help`}>{help}</p>
      {error && <p className="field-error" role="alert">{error}</p>}
    </div>
  );
}

function Results({ record: t }: { record: RestoreTestRecord }) {
  return (
    <div className="results">
      <p className={`verdict ${t.passed ? 'passed' : 'failed'}`} role="status">
        {t.passed ? 'Passed' : 'Failed'}: test #{t.id}
        {!t.passed && t.failures.length > 0 && <span className="small"> ({t.failures.join('; ')})</span>}
      </p>
      <dl className="plan">
        <dt>Files restored</dt>
        <dd>
          {count(t.filesRestored)} of {count(t.filesPlanned)} ({bytes(t.bytesRestored)})
        </dd>
        <dt>Verified</dt>
        <dd>
          {count(t.filesVerified)} against the snapshot's content hashes, {count(t.filesComparedWithSource)} also against the live source
        </dd>
        <dt>Time</dt>
        <dd>
          {duration(t.durationMs)}; a full restore {t.scope.kind === 'full' ? 'took' : 'would take about'} {duration(t.estimatedFullRestoreMs)}
        </dd>
        <dt>Target RTO</dt>
        <dd>{t.targetRtoMinutes === null ? 'none set' : `${t.targetRtoMinutes} min: ${t.rtoMet ? 'met' : 'NOT met'}`}</dd>
        <dt>Scope</dt>
        <dd>
          {scopeText(t.scope)} (seed {t.seed})
        </dd>
        <dt>Sandbox</dt>
        <dd>{t.sandboxKept ? `kept at ${t.sandboxPath}` : 'removed'}</dd>
      </dl>
      {t.mismatches.length > 0 && <ProblemTable caption="Files that did not match" rows={t.mismatches} />}
      {t.notRestored.length > 0 && <ProblemTable caption="Files that could not be restored" rows={t.notRestored} />}
    </div>
  );
}

function ProblemTable({ caption, rows }: { caption: string; rows: { path: string; reason: string }[] }) {
  return (
    <table className="problems">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Path</th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.path}>
            <td>
              <code>{r.path}</code>
            </td>
            <td>{r.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SignOff({ record, onSigned, back }: { record: RestoreTestRecord; onSigned: (r: RestoreTestRecord) => void; back: (() => void) | undefined }) {
  const [operator, setOperator] = useState(record.operator ?? '');
  const [note, setNote] = useState(record.note ?? '');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const sign = async () => {
    setSaving(true);
    setError(null);
    try {
      onSigned(await api.signOffRestoreTest(record.id, { operator, note }));
    } catch (e) {
      setError(errorText(e, true));
    } finally {
      setSaving(false);
    }
  };
  const download = async (format: 'html' | 'csv') => {
    try {
      const e = await api.exportRestoreTestEvidence({ format, ...(record.jobId !== null ? { jobId: record.jobId } : {}) });
      const url = URL.createObjectURL(new Blob([e.content], { type: e.mimeType }));
      const a = document.createElement('a');
      a.href = url;
      a.download = e.fileName;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Step back={back}>
      <div className={error ? 'field has-error' : 'field'}>
        <label htmlFor="rt-operator">Operator</label>
        <input id="rt-operator" value={operator} onChange={(e) => setOperator(e.target.value)} autoComplete="name" />
      </div>
      <div className="field">
        <label htmlFor="rt-note">Note</label>
        <textarea id="rt-note" rows={3} value={note} onChange={(e) => setNote(e.target.value)} />
      </div>
      {error && <p className="field-error" role="alert">{error}</p>}
      <button type="button" className="primary" onClick={sign} disabled={saving}>
        {record.signedOffAt ? 'Sign off again' : 'Sign off'}
      </button>
      {record.signedOffAt && (
        <div className="signed" role="status">
          <p>
            Signed off by <strong>{record.operator}</strong> on {dateTime(record.signedOffAt)}. The evidence is stored as test #{record.id}.
          </p>
          <p>
            <button type="button" onClick={() => download('html')}>Download the evidence report (HTML)</button>{' '}
            <button type="button" onClick={() => download('csv')}>Download the evidence (CSV)</button>
          </p>
        </div>
      )}
    </Step>
  );
}
