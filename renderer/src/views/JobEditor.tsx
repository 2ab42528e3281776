import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { RepositoryInfo } from '../../../shared/api.js';
import type { Job, OverlapPolicy } from '../../../shared/jobs.js';
import { ApiError, api, errorText } from '../api.js';
import { href, navigate } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { ScheduleField } from '../components/ScheduleField.js';
import { useNotice } from '../components/Notice.js';

/** The editor's fields; a service error's field (e.g. "sources.paths[1]") maps onto one of them. */
type FieldKey = 'name' | 'repositoryId' | 'paths' | 'exclude' | 'schedule' | 'overlap' | 'uploadWorkers' | 'bandwidth' | 'rpoHours' | 'enabled' | 'cadenceDays' | 'dueSoonDays' | 'targetRtoMinutes' | 'drillSchedule';

interface Form {
  name: string;
  repositoryId: string;
  paths: string;
  exclude: string;
  schedule: string;
  overlap: OverlapPolicy;
  uploadWorkers: string;
  bandwidth: string;
  rpoHours: string;
  enabled: boolean;
  /** Restore tests: a passing test every this many days, "due soon" that many before, the target RTO, drills. */
  cadenceDays: string;
  dueSoonDays: string;
  targetRtoMinutes: string;
  drillSchedule: string;
}

const EMPTY: Form = { name: '', repositoryId: '', paths: '', exclude: '', schedule: '', overlap: 'queue', uploadWorkers: '4', bandwidth: '', rpoHours: '', enabled: true, cadenceDays: '90', dueSoonDays: '14', targetRtoMinutes: '', drillSchedule: '' };

const OVERLAP: { value: OverlapPolicy; label: string }[] = [
  { value: 'skip', label: 'Skip: a run due while the previous one is going is recorded as skipped' },
  { value: 'queue', label: 'Queue: at most one run waits for the previous one' },
  { value: 'parallel', label: 'Parallel: start once the previous run has finished reading its sources' },
];

const fromJob = (j: Job): Form => ({
  name: j.name,
  repositoryId: String(j.repositoryId),
  paths: j.sources.paths.join('\n'),
  exclude: j.sources.exclude.join('\n'),
  schedule: j.schedule ?? '',
  overlap: j.overlap,
  uploadWorkers: String(j.uploadWorkers),
  bandwidth: j.bandwidth.limitKiBps === null ? '' : String(j.bandwidth.limitKiBps),
  rpoHours: j.rpoHours === null ? '' : String(j.rpoHours),
  enabled: j.enabled,
  cadenceDays: String(j.restoreTest.cadenceDays),
  dueSoonDays: String(j.restoreTest.dueSoonDays),
  targetRtoMinutes: j.restoreTest.targetRtoMinutes === null ? '' : String(j.restoreTest.targetRtoMinutes),
  drillSchedule: j.restoreTest.drillSchedule ?? '',
});

const lines = (s: string): string[] => s.split('\n').map((l) => l.trim()).filter(Boolean);

/** Where a service error belongs, and its text there ("sources.paths[1]: …" becomes "line 2: …"). */
function fieldOf(e: ApiError): { key: FieldKey | null; text: string } {
  const f = e.field ?? '';
  const text = errorText(e, true);
  const line = /\[(\d+)\]/.exec(f);
  const at = line ? `line ${Number(line[1]) + 1}: ` : '';
  if (f.startsWith('sources.paths')) return { key: 'paths', text: at + text };
  if (f.startsWith('sources.exclude')) return { key: 'exclude', text: at + text };
  if (f.startsWith('bandwidth')) return { key: 'bandwidth', text };
  const restoreTest = /^restoreTest\.(cadenceDays|dueSoonDays|targetRtoMinutes|drillSchedule)$/.exec(f);
  if (restoreTest) return { key: restoreTest[1] as FieldKey, text };
  const direct: FieldKey[] = ['name', 'repositoryId', 'schedule', 'overlap', 'uploadWorkers', 'rpoHours', 'enabled'];
  const key = direct.find((k) => k === f) ?? null;
  return { key, text: key ? text : e.message };
}

/** Whole numbers typed by the admin; empty means "none" where the field allows it. */
function parseWhole(s: string): number | null | 'bad' {
  const t = s.trim();
  if (t === '') return null;
  return /^\d+$/.test(t) ? Number(t) : 'bad';
}

/** Creates or edits a job. The service validates; its errors appear next to the field they name. */
export function JobEditor({ jobId }: { jobId: number | null }) {
  const { notify } = useNotice();
  const [form, setForm] = useState<Form>(EMPTY);
  const [original, setOriginal] = useState<Job | null>(null);
  const [repos, setRepos] = useState<RepositoryInfo[] | null>(null);
  const [errors, setErrors] = useState<Partial<Record<FieldKey, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    let live = true;
    Promise.all([api.listRepositories(), jobId === null ? null : api.getJob(jobId)]).then(
      ([r, status]) => {
        if (!live) return;
        setRepos(r);
        if (status) {
          setOriginal(status.job);
          setForm(fromJob(status.job));
        } else if (r.length === 1) {
          setForm((f) => ({ ...f, repositoryId: String(r[0]!.id) }));
        }
      },
      (e: unknown) => live && setFormError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [jobId]);

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setErrors((e) => {
      const k = key as FieldKey;
      if (!(k in e)) return e;
      const next = { ...e };
      delete next[k];
      return next;
    });
  };

  const focusField = (key: FieldKey) => {
    const el = formRef.current?.querySelector<HTMLElement>(`[data-field="${key}"] input, [data-field="${key}"] select, [data-field="${key}"] textarea`);
    el?.focus();
  };

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (saving) return;
    const local: Partial<Record<FieldKey, string>> = {};
    const workers = parseWhole(form.uploadWorkers);
    const bandwidth = parseWhole(form.bandwidth);
    const rpo = parseWhole(form.rpoHours);
    const cadence = parseWhole(form.cadenceDays);
    const dueSoon = parseWhole(form.dueSoonDays);
    const rto = parseWhole(form.targetRtoMinutes);
    if (workers === null || workers === 'bad') local.uploadWorkers = 'must be a whole number from 1 to 16';
    if (bandwidth === 'bad') local.bandwidth = 'must be a whole number of KiB/s, or empty for unlimited';
    if (rpo === 'bad') local.rpoHours = 'must be a whole number of hours, or empty for no watchdog';
    if (cadence === null || cadence === 'bad') local.cadenceDays = 'must be a whole number of days';
    if (dueSoon === null || dueSoon === 'bad') local.dueSoonDays = 'must be a whole number of days';
    if (rto === 'bad') local.targetRtoMinutes = 'must be a whole number of minutes, or empty for none';
    if (!form.repositoryId) local.repositoryId = 'choose the repository to back up to';
    const first = (Object.keys(local) as FieldKey[])[0];
    if (first) {
      setErrors(local);
      setFormError(null);
      focusField(first);
      return;
    }
    const config = {
      name: form.name,
      repositoryId: Number(form.repositoryId),
      sources: { paths: lines(form.paths), exclude: lines(form.exclude) },
      schedule: form.schedule.trim() === '' ? null : form.schedule.trim(),
      overlap: form.overlap,
      uploadWorkers: workers,
      bandwidth: { limitKiBps: bandwidth },
      rpoHours: rpo,
      enabled: form.enabled,
      // The scope a test restores by default is kept as it is (the wizard and the CLI choose it per test).
      restoreTest: {
        ...(original ? { scope: original.restoreTest.scope } : {}),
        cadenceDays: cadence,
        dueSoonDays: dueSoon,
        targetRtoMinutes: rto,
        drillSchedule: form.drillSchedule.trim() === '' ? null : form.drillSchedule.trim(),
      },
    };
    setSaving(true);
    setFormError(null);
    try {
      const job = original ? await api.updateJob(original.id, config) : await api.createJob(config);
      notify(`Saved job “${job.name}”.`);
      navigate({ view: 'dashboard' });
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        const { key, text } = fieldOf(e);
        if (key) {
          setErrors({ [key]: text });
          focusField(key);
        } else setFormError(text);
      } else setFormError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  const remove = async () => {
    if (!original) return;
    try {
      await api.deleteJob(original.id);
      notify(`Deleted job “${original.name}”.`);
      navigate({ view: 'jobs' });
    } catch (e) {
      setFormError(errorText(e));
    }
  };

  const title = original ? `Edit job “${original.name}”` : jobId === null ? 'New job' : 'Edit job';
  return (
    <section aria-labelledby="page-title">
      <PageHeading>{title}</PageHeading>
      {formError && (
        <p className="error" role="alert">
          {formError}
        </p>
      )}
      <form ref={formRef} className="job-form" onSubmit={submit} noValidate aria-busy={saving}>
        <div className="form-columns">
          <fieldset>
            <legend>What and where</legend>
            <Field k="name" label="Name" error={errors.name}>
              {(p) => <input {...p} value={form.name} onChange={(e) => set('name', e.target.value)} autoComplete="off" required />}
            </Field>
            <Field k="repositoryId" label="Repository" error={errors.repositoryId} help={repos && repos.length === 0 ? 'No repository yet: add one with `lifeboat repos add NAME LOCATION --init`.' : undefined}>
              {(p) => (
                <select {...p} value={form.repositoryId} onChange={(e) => set('repositoryId', e.target.value)}>
                  <option value="">{repos === null ? 'Loading…' : 'Choose a repository'}</option>
                  {repos?.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.name} ({r.location})
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field k="paths" label="Source paths" help="One absolute path per line." error={errors.paths}>
              {(p) => <textarea {...p} rows={3} className="mono" value={form.paths} onChange={(e) => set('paths', e.target.value)} spellCheck={false} />}
            </Field>
            <Field k="exclude" label="Excludes" help="One glob per line, e.g. *.tmp or /srv/share/cache." error={errors.exclude}>
              {(p) => <textarea {...p} rows={3} className="mono" value={form.exclude} onChange={(e) => set('exclude', e.target.value)} spellCheck={false} />}
            </Field>
          </fieldset>
          <fieldset>
            <legend>When and how</legend>
            <div data-field="schedule">
              <ScheduleField id="field-schedule" value={form.schedule} onChange={(v) => set('schedule', v)} saveError={errors.schedule} />
            </div>
            <Field k="overlap" label="When the previous run is still going" error={errors.overlap}>
              {(p) => (
                <select {...p} value={form.overlap} onChange={(e) => set('overlap', e.target.value as OverlapPolicy)}>
                  {OVERLAP.map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <div className="field-row">
              <Field k="uploadWorkers" label="Upload workers" help="1 to 16 parallel uploads." error={errors.uploadWorkers}>
                {(p) => <input {...p} type="number" inputMode="numeric" min={1} max={16} value={form.uploadWorkers} onChange={(e) => set('uploadWorkers', e.target.value)} />}
              </Field>
              <Field
                k="bandwidth"
                label="Bandwidth limit (KiB/s)"
                help={`Empty: unlimited.${original && original.bandwidth.windows.length > 0 ? ` ${original.bandwidth.windows.length} time-of-day window(s) are kept.` : ''}`}
                error={errors.bandwidth}
              >
                {(p) => <input {...p} type="number" inputMode="numeric" min={1} value={form.bandwidth} onChange={(e) => set('bandwidth', e.target.value)} placeholder="unlimited" />}
              </Field>
              <Field k="rpoHours" label="RPO alert after (hours)" help="Empty: no watchdog." error={errors.rpoHours}>
                {(p) => <input {...p} type="number" inputMode="numeric" min={1} value={form.rpoHours} onChange={(e) => set('rpoHours', e.target.value)} placeholder="none" />}
              </Field>
            </div>
            <div className="field checkbox" data-field="enabled">
              <input id="field-enabled" type="checkbox" checked={form.enabled} onChange={(e) => set('enabled', e.target.checked)} />
              <label htmlFor="field-enabled">Enabled (runs on its schedule)</label>
            </div>
          </fieldset>
          <fieldset>
            <legend>Restore tests</legend>
            <div className="field-row">
              <Field k="cadenceDays" label="A passing test every (days)" error={errors.cadenceDays}>
                {(p) => <input {...p} type="number" inputMode="numeric" min={1} value={form.cadenceDays} onChange={(e) => set('cadenceDays', e.target.value)} />}
              </Field>
              <Field k="dueSoonDays" label="Remind this many days before" error={errors.dueSoonDays}>
                {(p) => <input {...p} type="number" inputMode="numeric" min={0} value={form.dueSoonDays} onChange={(e) => set('dueSoonDays', e.target.value)} />}
              </Field>
              <Field k="targetRtoMinutes" label="Target RTO (minutes)" help="The longest a full restore may take. Empty: none." error={errors.targetRtoMinutes}>
                {(p) => <input {...p} type="number" inputMode="numeric" min={1} value={form.targetRtoMinutes} onChange={(e) => set('targetRtoMinutes', e.target.value)} placeholder="none" />}
              </Field>
            </div>
            <Field k="drillSchedule" label="Automatic drills (calendar event)" help="E.g. “Sun *-*-1..7 04:00” (first Sunday of the month). Empty: tests are started by hand." error={errors.drillSchedule}>
              {(p) => <input {...p} className="mono" value={form.drillSchedule} onChange={(e) => set('drillSchedule', e.target.value)} placeholder="none" autoComplete="off" spellCheck={false} />}
            </Field>
          </fieldset>
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={saving}>
            {saving ? 'Saving…' : original ? 'Save changes' : 'Create job'}
          </button>
          <a className="button secondary" href={href(original ? { view: 'jobs' } : { view: 'dashboard' })}>
            Cancel
          </a>
          {original && !confirmDelete && (
            <button type="button" className="danger-outline" onClick={() => setConfirmDelete(true)}>
              Delete job…
            </button>
          )}
          {original && confirmDelete && (
            <>
              <button type="button" className="danger" onClick={remove}>
                Delete “{original.name}” (its snapshots stay in the repository)
              </button>
              <button type="button" className="secondary" onClick={() => setConfirmDelete(false)}>
                Keep it
              </button>
            </>
          )}
        </div>
      </form>
    </section>
  );
}

interface ControlProps {
  id: string;
  name: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** A labelled control with its help and, when the service named it, its error right below. */
function Field({ k, label, help, error, children }: { k: FieldKey; label: string; help?: string | undefined; error: string | undefined; children: (p: ControlProps) => ReactNode }) {
  const id = `field-${k}`;
  const describedBy = [help ? `${id}-help` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' has-error' : ''}`} data-field={k}>
      <label htmlFor={id}>{label}</label>
      {children({ id, name: k, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })}
      {help && (
        <p id={`${id}-help`} className="help">
          {help}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
