import { useState, type FormEvent, type ReactNode } from 'react';
import type { ConnectionTest, RepositoryInfo } from '../../../shared/api.js';
import type { RepositoryCredentials } from '../../../shared/credentials.js';
import { ApiError, api, errorText } from '../api.js';
import { navigate } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { ScheduleField } from '../components/ScheduleField.js';
import { useNotice } from '../components/Notice.js';
import { ConnectionTestResult, credentialsFor, TargetCredentialsFields } from '../components/TargetCredentials.js';

const STEPS = ['Folders', 'Target', 'Password', 'Schedule', 'Retention'] as const;

/** Which step asks for the field a validation error names. */
function stepOfField(field: string | null): number {
  if (!field) return 4;
  if (field === 'name' || field.startsWith('sources')) return 0;
  if (field === 'location' || field.startsWith('credentials') || field.startsWith('credentialRefs')) return 1;
  if (field === 'password') return 2;
  if (field === 'schedule') return 3;
  return 4;
}

/** First-run setup: five short steps from nothing to a scheduled job (and its first backup). */
export function Setup() {
  const { notify } = useNotice();
  const [step, setStep] = useState(0);
  const [name, setName] = useState('My files');
  const [paths, setPaths] = useState('');
  const [repoName, setRepoName] = useState('backups');
  const [location, setLocation] = useState('');
  const [test, setTest] = useState<ConnectionTest | null>(null);
  const [testing, setTesting] = useState(false);
  const [typedCredentials, setTypedCredentials] = useState<RepositoryCredentials>({});
  const [keyConfirmed, setKeyConfirmed] = useState(false);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [repo, setRepo] = useState<RepositoryInfo | null>(null);
  const [schedule, setSchedule] = useState('*-*-* 02:00:00');
  const [daily, setDaily] = useState('7');
  const [weekly, setWeekly] = useState('4');
  const [monthly, setMonthly] = useState('12');
  const [runFirst, setRunFirst] = useState(true);
  const [error, setError] = useState<{ field: string | null; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const pathList = paths.split('\n').map((p) => p.trim()).filter(Boolean);
  const credentials = credentialsFor(location, typedCredentials);
  const withCredentials = Object.keys(credentials).length > 0 ? { credentials } : {};
  // Anything that changes what would be connected to makes the last test stale.
  const targetChanged = () => {
    setTest(null);
    setKeyConfirmed(false);
  };
  const fail = (e: unknown) => {
    const field = e instanceof ApiError ? e.field : null;
    setError({ field, text: errorText(e) });
    setStep((s) => Math.min(s, stepOfField(field)));
  };

  const testConnection = async () => {
    setTesting(true);
    setError(null);
    try {
      setKeyConfirmed(false);
      setTest(await api.testConnection({ location, ...withCredentials }));
    } catch (e) {
      fail(e);
      setTest(null);
    } finally {
      setTesting(false);
    }
  };

  const next = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (step === 0 && pathList.length === 0) return setError({ field: 'sources.paths', text: 'sources.paths: name at least one folder to back up' });
    if (step === 1 && !test?.ok) return setError({ field: test?.field ?? 'location', text: `${test?.field ?? 'location'}: test the connection first (it must succeed)` });
    if (step === 1 && test?.hostKey?.status === 'new' && !keyConfirmed) return setError({ field: 'location', text: 'location: confirm the server’s host key fingerprint first' });
    if (step === 2) {
      if (password.length < 8) return setError({ field: 'password', text: 'password: use at least 8 characters' });
      if (password !== confirm) return setError({ field: 'password', text: 'password: the two entries differ' });
      if (!repo || repo.location !== location) {
        setBusy(true);
        try {
          const hostKey = test?.hostKey?.status === 'new' ? { hostKeyFingerprint: test.hostKey.fingerprint } : {};
          setRepo(await api.addRepository({ name: repoName, location, password, create: !test?.initialized, ...withCredentials, ...hostKey }));
        } catch (err) {
          setBusy(false);
          return fail(err);
        }
        setBusy(false);
      }
    }
    if (step < STEPS.length - 1) return setStep(step + 1);
    // Last step: create the job, start its first backup, go to the dashboard.
    setBusy(true);
    try {
      // Only the kinds given a number; none at all: keep everything.
      const retention = Object.fromEntries(([['daily', daily], ['weekly', weekly], ['monthly', monthly]] as const).filter(([, v]) => v.trim() !== '' && v.trim() !== '0').map(([k, v]) => [k, Number(v)]));
      const keepSome = Object.keys(retention).length > 0;
      const job = await api.createJob({
        name,
        repositoryId: repo!.id,
        sources: { paths: pathList },
        schedule: schedule.trim() || null,
        retention: keepSome ? retention : null,
        pruneAfterBackup: keepSome,
      });
      if (runFirst) await api.runNow(job.id);
      notify(runFirst ? `Job ${job.name} created; its first backup is running` : `Job ${job.name} created`);
      navigate({ view: 'dashboard' });
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const stepBody: ReactNode[] = [
    <>
      <p>Which folders should Lifeboat keep safe? One absolute path per line.</p>
      <label htmlFor="setup-name">Name of this backup</label>
      <input id="setup-name" value={name} onChange={(e) => setName(e.target.value)} />
      <label htmlFor="setup-paths">Folders</label>
      <textarea id="setup-paths" rows={4} cols={60} value={paths} onChange={(e) => setPaths(e.target.value)} placeholder={'/var/www\n/home/shared'} />
    </>,
    <>
      <p>Where do the backups go? A folder or mounted NAS share, <code>sftp:user@host:/path</code>, or <code>s3:…</code>.</p>
      <label htmlFor="setup-repo-name">Repository name</label>
      <input id="setup-repo-name" value={repoName} onChange={(e) => setRepoName(e.target.value)} />
      <label htmlFor="setup-location">Location</label>
      <div>
        <input id="setup-location" value={location} size={50} aria-invalid={test?.field === 'location' || undefined} onChange={(e) => { setLocation(e.target.value); targetChanged(); }} />
      </div>
      <TargetCredentialsFields idPrefix="setup" location={location} value={typedCredentials} invalidField={test?.field ?? error?.field} onChange={(v) => { setTypedCredentials(v); targetChanged(); }} />
      <span />
      <div>
        <button type="button" onClick={testConnection} disabled={!location.trim() || testing}>
          {testing ? 'Testing…' : 'Test connection'}
        </button>
        {testing && <progress aria-label="Testing the connection" />}
        {test && <ConnectionTestResult idPrefix="setup" test={test} confirmed={keyConfirmed} onConfirm={(v) => { setKeyConfirmed(v); setError(null); }} />}
      </div>
    </>,
    <>
      <p>
        {test?.initialized ? 'The repository’s password:' : 'A password for the new repository.'} It is kept in the system keychain (or Lifeboat’s encrypted secrets file); without it the backups cannot be read, so keep a copy somewhere safe.
      </p>
      <label htmlFor="setup-password">Password</label>
      <input id="setup-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      <label htmlFor="setup-confirm">Password again</label>
      <input id="setup-confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
      {busy && <progress aria-label="Creating the repository" />}
    </>,
    <>
      <p>When should it run? A calendar expression such as <code>daily</code>, <code>Mon..Fri 18:00</code> or <code>*-*-* 02:00</code>; leave empty to run by hand only.</p>
      <label htmlFor="setup-schedule">Schedule</label>
      <ScheduleField id="setup-schedule" value={schedule} onChange={setSchedule} saveError={error?.field === 'schedule' ? error.text : undefined} />
    </>,
    <>
      <p>How many snapshots to keep? Older ones are removed after each backup (0 or empty: no limit of that kind).</p>
      <label htmlFor="setup-daily">Daily</label>
      <input id="setup-daily" type="number" min={0} value={daily} onChange={(e) => setDaily(e.target.value)} />
      <label htmlFor="setup-weekly">Weekly</label>
      <input id="setup-weekly" type="number" min={0} value={weekly} onChange={(e) => setWeekly(e.target.value)} />
      <label htmlFor="setup-monthly">Monthly</label>
      <input id="setup-monthly" type="number" min={0} value={monthly} onChange={(e) => setMonthly(e.target.value)} />
      <span />
      <label>
        <input type="checkbox" checked={runFirst} onChange={(e) => setRunFirst(e.target.checked)} /> Start the first backup now
      </label>
    </>,
  ];

  return (
    <section aria-labelledby="page-title">
      <PageHeading>Set up a backup</PageHeading>
      <ol className="steps" aria-label="Setup steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === step ? 'step' : undefined} className={i < step ? 'done' : undefined}>
            {i + 1}. {s}
          </li>
        ))}
      </ol>
      <form className="panel form-grid" onSubmit={next} aria-labelledby="setup-step-title" noValidate>
        <h2 id="setup-step-title">
          Step {step + 1} of {STEPS.length}: {STEPS[step]}
        </h2>
        {stepBody[step]}
        {error && (
          <p className="error form-error" role="alert">
            {error.text}
          </p>
        )}
        <div className="form-actions">
          {step > 0 && (
            <button type="button" onClick={() => { setError(null); setStep(step - 1); }}>
              Back
            </button>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {step === STEPS.length - 1 ? 'Finish' : 'Next'}
          </button>
        </div>
      </form>
    </section>
  );
}
