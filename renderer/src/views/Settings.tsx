import { useEffect, useState, type FormEvent } from 'react';
import type { SettingsView } from '../../../shared/settings.js';
import { ApiError, api, errorText } from '../api.js';
import { dateTime } from '../format.js';
import { href } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { useNotice } from '../components/Notice.js';
import { ConnectionTestResult, credentialsFor, TargetCredentialsFields } from '../components/TargetCredentials.js';
import type { ConnectionTest } from '../../../shared/api.js';
import type { RepositoryCredentials } from '../../../shared/credentials.js';
import { useLoad } from '../useLoad.js';
import { NotificationChannels } from './NotificationChannels.js';

/** App-wide settings, repositories, and export/import of job configuration. */
export function Settings() {
  const settings = useLoad(() => api.getSettings(), []);
  return (
    <section aria-labelledby="page-title">
      <PageHeading actions={<a className="button" href={href({ view: 'setup' })}>Set up a new backup</a>}>Settings</PageHeading>
      {settings.error && <p className="error" role="alert">Could not load the settings: {settings.error}</p>}
      {settings.data && <SettingsForm initial={settings.data} onSaved={(s) => settings.set(() => s)} />}
      {settings.data && <NotificationChannels initial={settings.data.notifications} onSaved={(n) => settings.set((s) => (s ? { ...s, notifications: n } : s))} />}
      <Repositories />
      <ExportImport />
    </section>
  );
}

function SettingsForm({ initial, onSaved }: { initial: SettingsView; onSaved: (s: SettingsView) => void }) {
  const { notify } = useNotice();
  const [concurrency, setConcurrency] = useState(String(initial.maxConcurrentRuns));
  const [limit, setLimit] = useState(initial.bandwidth.limitKiBps === null ? '' : String(initial.bandwidth.limitKiBps));
  const [desktop, setDesktop] = useState(initial.notifications.desktop);
  const [startAtLogin, setStartAtLogin] = useState(initial.startAtLogin);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setErrors({});
    try {
      const saved = await api.updateSettings({
        maxConcurrentRuns: Number(concurrency),
        bandwidth: { ...initial.bandwidth, limitKiBps: limit.trim() === '' ? null : Number(limit) },
        notifications: { desktop },
        startAtLogin,
      });
      onSaved(saved);
      notify('Settings saved');
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [err.field]: errorText(err, true) });
      else notify(errorText(err), 'error');
    } finally {
      setSaving(false);
    }
  };
  const fieldError = (f: string) => errors[f] && <span className="error field-error" id={`${f}-error`}>{errors[f]}</span>;
  return (
    <form className="panel form-grid" onSubmit={save} aria-labelledby="settings-general" noValidate>
      <h2 id="settings-general">General</h2>
      <label htmlFor="set-concurrency">Runs at once (all jobs)</label>
      <div>
        <input id="set-concurrency" type="number" min={1} max={16} value={concurrency} onChange={(e) => setConcurrency(e.target.value)} aria-invalid={Boolean(errors.maxConcurrentRuns)} aria-describedby={errors.maxConcurrentRuns ? 'maxConcurrentRuns-error' : undefined} />
        {fieldError('maxConcurrentRuns')}
      </div>
      <label htmlFor="set-bandwidth">Global bandwidth limit (KiB/s)</label>
      <div>
        <input id="set-bandwidth" type="number" min={1} value={limit} placeholder="unlimited" onChange={(e) => setLimit(e.target.value)} aria-invalid={Boolean(errors['bandwidth.limitKiBps'])} aria-describedby={errors['bandwidth.limitKiBps'] ? 'bandwidth.limitKiBps-error' : undefined} />
        {fieldError('bandwidth.limitKiBps')}
        {initial.bandwidth.windows.length > 0 && <span className="small muted"> plus {initial.bandwidth.windows.length} time-of-day windows</span>}
      </div>
      <span id="set-channels">Notifications</span>
      <div role="group" aria-labelledby="set-channels">
        <label>
          <input type="checkbox" checked={desktop} onChange={(e) => setDesktop(e.target.checked)} /> Desktop notifications (each job's mode decides which runs: errors only, or always)
        </label>
      </div>
      <span id="set-login">Start</span>
      <div role="group" aria-labelledby="set-login">
        <label>
          <input type="checkbox" checked={startAtLogin} onChange={(e) => setStartAtLogin(e.target.checked)} /> Start Lifeboat in the tray when I log in (desktop app)
        </label>
      </div>
      <span>Data folder</span>
      <div>
        <code data-testid="data-dir">{initial.dataDir ?? 'chosen by the host'}</code> <span className="small muted">(set with --data-dir or LIFEBOAT_DATA_DIR)</span>
      </div>
      <div />
      <div>
        <button type="submit" className="primary" disabled={saving}>
          {saving ? 'Saving…' : 'Save settings'}
        </button>
      </div>
    </form>
  );
}

function Repositories() {
  const { notify } = useNotice();
  const repos = useLoad(() => api.listRepositories(), []);
  const [name, setName] = useState('');
  const [location, setLocation] = useState('');
  const [password, setPassword] = useState('');
  const [create, setCreate] = useState(true);
  const [error, setError] = useState<{ field: string | null; text: string } | null>(null);
  const [test, setTest] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The target's credentials as typed, the last test's result, and whether its new host key was confirmed.
  const [typed, setTyped] = useState<RepositoryCredentials>({});
  const [result, setResult] = useState<ConnectionTest | null>(null);
  const [keyConfirmed, setKeyConfirmed] = useState(false);
  const credentials = credentialsFor(location, typed);
  const withCredentials = Object.keys(credentials).length > 0 ? { credentials } : {};
  const stale = () => {
    setResult(null);
    setKeyConfirmed(false);
  };
  const testIt = async () => {
    setTest('Testing…');
    stale();
    try {
      const r = await api.testConnection({ location, ...(password ? { password } : {}), ...withCredentials });
      setTest(null);
      setResult(r);
      if (r.ok) setCreate(!r.initialized);
    } catch (e) {
      setTest(`Failed: ${errorText(e)}`);
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (result?.hostKey?.status === 'new' && !keyConfirmed) return setError({ field: 'location', text: 'location: confirm the server’s host key fingerprint first' });
    setBusy(true);
    setError(null);
    try {
      // The key the admin confirmed is the only one the server may present when the repository is added.
      const hostKey = result?.hostKey?.status === 'new' ? { hostKeyFingerprint: result.hostKey.fingerprint } : {};
      const r = await api.addRepository({ name, location, password, create, ...withCredentials, ...hostKey });
      notify(`Repository ${r.name} added`);
      setName('');
      setLocation('');
      setPassword('');
      setTyped({});
      stale();
      setTest(null);
      repos.reload();
    } catch (err) {
      setError({ field: err instanceof ApiError ? err.field : null, text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="panel" aria-labelledby="repos-title">
      <h2 id="repos-title">Repositories</h2>
      {repos.data && repos.data.length > 0 && (
        <table aria-label="Repositories">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Location</th>
              <th scope="col">Password kept in</th>
              <th scope="col">Added</th>
            </tr>
          </thead>
          <tbody>
            {repos.data.map((r) => (
              <tr key={r.id}>
                <th scope="row">
                  <a href={href({ view: 'snapshots', repositoryId: r.id })}>{r.name}</a>
                </th>
                <td>
                  <code>{r.location}</code>
                </td>
                <td>{r.passwordRef?.split(':')[0] ?? ''}</td>
                <td>{dateTime(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="form-grid" onSubmit={add} aria-labelledby="repo-add-title">
        <h3 id="repo-add-title">Add a repository</h3>
        <label htmlFor="repo-name">Name</label>
        <input id="repo-name" value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="repo-location">Location</label>
        <div>
          <input id="repo-location" value={location} onChange={(e) => { setLocation(e.target.value); stale(); }} placeholder="/mnt/nas/backups, sftp:user@host:/srv/backups, s3:…" size={50} />{' '}
          <button type="button" onClick={testIt} disabled={!location.trim()}>
            Test connection
          </button>
          {test && <div role="status" className="small">{test}</div>}
          {result && <ConnectionTestResult idPrefix="repo" test={result} confirmed={keyConfirmed} onConfirm={setKeyConfirmed} />}
        </div>
        <TargetCredentialsFields idPrefix="repo" location={location} value={typed} invalidField={result?.field ?? error?.field} onChange={(v) => { setTyped(v); stale(); }} />
        <label htmlFor="repo-password">Password</label>
        <input id="repo-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
        <span />
        <label>
          <input type="checkbox" checked={create} onChange={(e) => setCreate(e.target.checked)} /> Create a new repository there
        </label>
        <span />
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add repository'}
          </button>
          {error && <p className="error" role="alert">{error.text}</p>}
        </div>
      </form>
    </section>
  );
}

function ExportImport() {
  const { notify } = useNotice();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [downloadUrl, setDownloadUrl] = useState<string | null>(null);
  useEffect(() => () => {
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  }, [downloadUrl]);
  const doExport = async () => {
    setError(null);
    try {
      const json = JSON.stringify(await api.exportJobs(), null, 2);
      setText(json);
      setDownloadUrl(URL.createObjectURL(new Blob([json], { type: 'application/json' })));
    } catch (e) {
      setError(errorText(e));
    }
  };
  const doImport = async () => {
    setError(null);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      setError('The text is not JSON: paste a Lifeboat jobs export');
      return;
    }
    try {
      const jobs = await api.importJobs(data);
      notify(`Imported ${jobs.length} job${jobs.length === 1 ? '' : 's'}: ${jobs.map((j) => j.name).join(', ')}`);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section className="panel" aria-labelledby="export-title">
      <h2 id="export-title">Export and import jobs</h2>
      <p className="small muted">Job configuration only: repositories are named, passwords stay in the secret store.</p>
      <div className="toolbar">
        <button type="button" onClick={doExport}>
          Export jobs
        </button>
        {downloadUrl && (
          <a className="button secondary" href={downloadUrl} download="lifeboat-jobs.json">
            Save as file
          </a>
        )}
        <button type="button" onClick={doImport} disabled={!text.trim()}>
          Import jobs from the text below
        </button>
      </div>
      <label htmlFor="jobs-json" className="visually-hidden">
        Jobs export (JSON)
      </label>
      <textarea id="jobs-json" rows={10} cols={100} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
