import { useState, type FormEvent } from 'react';
import type { RestoreSummary } from '../../../shared/api.js';
import type { OperationProgress } from '../../../shared/progress.js';
import type { Snapshot } from '../../../shared/repo/types.js';
import type { SnapshotDiff, SnapshotEntry } from '../../../shared/snapshot-index.js';
import { api, errorText } from '../api.js';
import { useLifeboatEvent } from '../events.js';
import { bytes, count, dateTime, rate } from '../format.js';
import { href, navigate } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { useLoad } from '../useLoad.js';

const short = (id: string) => id.slice(0, 8);

/** Snapshots per repository (filtered by job): browse one as a tree, search it, restore from it, compare two. */
export function Snapshots({ repositoryId }: { repositoryId: number | null }) {
  const repos = useLoad(() => api.listRepositories(), []);
  const jobs = useLoad(() => api.listJobs(), []);
  const repoId = repositoryId ?? repos.data?.[0]?.id ?? null;
  const snapshots = useLoad(async () => (repoId ? (await api.listSnapshots(repoId)).sort((a, b) => (a.time < b.time ? 1 : -1)) : []), [repoId]);
  const [jobFilter, setJobFilter] = useState('');
  const [browsing, setBrowsing] = useState<Snapshot | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const [diff, setDiff] = useState<{ from: Snapshot; to: Snapshot; diff: SnapshotDiff } | null>(null);
  const [diffError, setDiffError] = useState<string | null>(null);

  const job = jobs.data?.find((j) => String(j.job.id) === jobFilter)?.job;
  const samePaths = (s: Snapshot) => !job || JSON.stringify([...s.paths].sort()) === JSON.stringify([...job.sources.paths].sort());
  const shown = (snapshots.data ?? []).filter(samePaths);

  const toggleCompare = (id: string) => setCompare((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id].slice(-2)));
  const runCompare = async () => {
    if (!repoId || compare.length !== 2) return;
    const [a, b] = compare.map((id) => shown.find((s) => s.id === id)!).sort((x, y) => (x.time < y.time ? -1 : 1));
    setDiffError(null);
    setDiff(null);
    try {
      setDiff({ from: a!, to: b!, diff: await api.diffSnapshots(repoId, a!.id, b!.id) });
    } catch (e) {
      setDiffError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="page-title">
      <PageHeading>Snapshots</PageHeading>
      {repos.data && repos.data.length === 0 && (
        <p className="empty">
          No repository yet. <a href={href({ view: 'setup' })}>Set up a backup</a> or add a repository in <a href={href({ view: 'settings' })}>Settings</a>.
        </p>
      )}
      {repos.data && repos.data.length > 0 && (
        <div className="toolbar">
          <label htmlFor="snap-repo">Repository</label>
          <select id="snap-repo" value={repoId ?? ''} onChange={(e) => navigate({ view: 'snapshots', repositoryId: Number(e.target.value) })}>
            {repos.data.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} ({r.location})
              </option>
            ))}
          </select>
          <label htmlFor="snap-job">Job</label>
          <select id="snap-job" value={jobFilter} onChange={(e) => setJobFilter(e.target.value)}>
            <option value="">All snapshots</option>
            {jobs.data?.filter((j) => j.job.repositoryId === repoId).map((j) => (
              <option key={j.job.id} value={j.job.id}>
                {j.job.name}
              </option>
            ))}
          </select>
          <button type="button" onClick={runCompare} disabled={compare.length !== 2}>
            Compare selected ({compare.length}/2)
          </button>
        </div>
      )}
      {snapshots.error && <p className="error" role="alert">Could not list the snapshots: {snapshots.error}</p>}
      {snapshots.data === undefined && repoId && !snapshots.error && (
        <p className="muted" role="status">
          <progress aria-label="Loading snapshots" /> Reading the repository…
        </p>
      )}
      {snapshots.data && shown.length === 0 && <p className="empty">No snapshots here yet.</p>}
      {shown.length > 0 && (
        <table aria-label="Snapshots">
          <thead>
            <tr>
              <th scope="col">Compare</th>
              <th scope="col">Snapshot</th>
              <th scope="col">Time</th>
              <th scope="col">Host</th>
              <th scope="col">Paths</th>
              <th scope="col">Added</th>
              <th scope="col" className="actions">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((s) => (
              <tr key={s.id} className={browsing?.id === s.id ? 'selected' : undefined}>
                <td>
                  <input type="checkbox" aria-label={`Compare snapshot ${short(s.id)}`} checked={compare.includes(s.id)} onChange={() => toggleCompare(s.id)} />
                </td>
                <th scope="row">
                  <code>{short(s.id)}</code>
                </th>
                <td>{dateTime(s.time, true)}</td>
                <td>{s.hostname}</td>
                <td>{s.paths.join(', ')}</td>
                <td>{s.summary ? bytes(s.summary.data_added) : ''}</td>
                <td className="actions">
                  <button type="button" onClick={() => setBrowsing(s)} aria-label={`Browse snapshot ${short(s.id)}`}>
                    Browse
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {diffError && <p className="error" role="alert">Could not compare: {diffError}</p>}
      {diff && <DiffView {...diff} />}
      {browsing && repoId && <SnapshotBrowser key={browsing.id} repositoryId={repoId} snapshot={browsing} />}
    </section>
  );
}

function DiffView({ from, to, diff }: { from: Snapshot; to: Snapshot; diff: SnapshotDiff }) {
  const section = (title: string, rows: SnapshotEntry[], extra?: (e: SnapshotEntry) => string) => (
    <div className="diff-section">
      <h3>
        {title} ({count(rows.length)})
      </h3>
      {rows.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul className="diff-list" aria-label={title}>
          {rows.map((e) => (
            <li key={e.path}>
              <code>{e.path}</code> <span className="muted small">{e.type === 'dir' ? 'folder' : bytes(e.size)}{extra ? extra(e) : ''}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
  const before = new Map(diff.changed.map((c) => [c.path, c.before]));
  return (
    <section className="panel" aria-labelledby="diff-title">
      <h2 id="diff-title">
        Changes from {short(from.id)} ({dateTime(from.time)}) to {short(to.id)} ({dateTime(to.time)})
      </h2>
      <p>
        {bytes(diff.bytesAdded)} added or changed, {bytes(diff.bytesRemoved)} removed.
      </p>
      <div className="diff-grid">
        {section('Added', diff.added)}
        {section('Removed', diff.removed)}
        {section(
          'Changed',
          diff.changed.map((c) => c.after),
          (e) => ` (was ${bytes(before.get(e.path)?.size ?? 0)})`,
        )}
      </div>
    </section>
  );
}

function SnapshotBrowser({ repositoryId, snapshot }: { repositoryId: number; snapshot: Snapshot }) {
  const [dir, setDir] = useState('/');
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<{ entries: SnapshotEntry[]; truncated: boolean; query: string } | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const listing = useLoad(() => api.listSnapshotTree(repositoryId, snapshot.id, dir), [repositoryId, snapshot.id, dir]);
  const [searchError, setSearchError] = useState<string | null>(null);

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setSearchError(null);
    if (!query.trim()) return setResults(null);
    try {
      setResults({ ...(await api.searchSnapshot(repositoryId, snapshot.id, query)), query });
    } catch (err) {
      setSearchError(errorText(err, true));
    }
  };
  const toggle = (p: string) => setSelected((s) => (s.includes(p) ? s.filter((x) => x !== p) : [...s, p]));
  const crumbs = dir === '/' ? [] : dir.split('/').filter(Boolean);

  const rows = (entries: SnapshotEntry[], showPath: boolean) => (
    <table aria-label={showPath ? 'Search results' : `Contents of ${dir}`}>
      <thead>
        <tr>
          <th scope="col">Restore</th>
          <th scope="col">Name</th>
          <th scope="col">Size</th>
          <th scope="col">Modified</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.path}>
            <td>
              <input type="checkbox" aria-label={`Select ${e.path} for restore`} checked={selected.includes(e.path)} onChange={() => toggle(e.path)} />
            </td>
            <th scope="row">
              {e.type === 'dir' ? (
                <button type="button" className="link" onClick={() => { setDir(e.path); setResults(null); }}>
                  📁 {showPath ? e.path : e.name}
                </button>
              ) : (
                <span>{showPath ? e.path : e.name}{e.type === 'symlink' && <span className="muted small"> (link)</span>}</span>
              )}
            </th>
            <td className="num">{bytes(e.size)}</td>
            <td>{dateTime(e.mtime)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

  return (
    <section className="panel" aria-labelledby="browser-title">
      <h2 id="browser-title">
        Snapshot {short(snapshot.id)} of {dateTime(snapshot.time)}
      </h2>
      <div className="toolbar">
        <nav aria-label="Folder path" className="crumbs">
          <button type="button" className="link" onClick={() => setDir('/')}>
            /
          </button>
          {crumbs.map((c, i) => {
            const p = '/' + crumbs.slice(0, i + 1).join('/');
            return (
              <span key={p}>
                {i > 0 && ' / '}
                <button type="button" className="link" aria-current={p === dir ? 'location' : undefined} onClick={() => setDir(p)}>
                  {c}
                </button>
              </span>
            );
          })}
        </nav>
        <form onSubmit={search} className="search" role="search">
          <label htmlFor="snap-search">Search by name</label>
          <input id="snap-search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="e.g. invoice or *.sql" />
          <button type="submit">Search</button>
        </form>
      </div>
      {searchError && <p className="error" role="alert">{searchError}</p>}
      {results && (
        <>
          <h3>
            {count(results.entries.length)}
            {results.truncated ? '+' : ''} matches for “{results.query}”
          </h3>
          {results.entries.length > 0 && rows(results.entries, true)}
        </>
      )}
      {!results && listing.error && <p className="error" role="alert">{listing.error}</p>}
      {!results && listing.data === undefined && !listing.error && (
        <p role="status">
          <progress aria-label="Reading the snapshot" /> Reading the snapshot…
        </p>
      )}
      {!results && listing.data && (listing.data.entries.length === 0 ? <p className="muted">Empty folder.</p> : rows(listing.data.entries, false))}
      <RestorePanel repositoryId={repositoryId} snapshot={snapshot} selected={selected} />
    </section>
  );
}

function RestorePanel({ repositoryId, snapshot, selected }: { repositoryId: number; snapshot: Snapshot; selected: string[] }) {
  const [where, setWhere] = useState<'original' | 'other'>('other');
  const [folder, setFolder] = useState('');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<OperationProgress | null>(null);
  const [result, setResult] = useState<RestoreSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  useLifeboatEvent('restoreProgress', (p) => {
    if (busy && p.snapshotId === snapshot.id) setProgress(p.progress);
  });
  const restore = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    setError(null);
    setProgress(null);
    try {
      setResult(await api.restore({ repositoryId, snapshotId: snapshot.id, target: where === 'original' ? '/' : folder, include: selected }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="restore" onSubmit={restore} aria-labelledby="restore-title">
      <h3 id="restore-title">Restore {selected.length === 0 ? 'the whole snapshot' : `${count(selected.length)} selected item${selected.length === 1 ? '' : 's'}`}</h3>
      <fieldset>
        <legend>Restore to</legend>
        <label>
          <input type="radio" name="restore-where" checked={where === 'other'} onChange={() => setWhere('other')} /> another folder
        </label>
        <label>
          <input type="radio" name="restore-where" checked={where === 'original'} onChange={() => setWhere('original')} /> the original place (replaces the files there)
        </label>
      </fieldset>
      {where === 'other' && (
        <p>
          <label htmlFor="restore-folder">Folder</label>{' '}
          <input id="restore-folder" value={folder} onChange={(e) => setFolder(e.target.value)} placeholder="/home/admin/restored" size={40} />{' '}
          <span className="small muted">the snapshot's paths are recreated inside it</span>
        </p>
      )}
      <button type="submit" className="primary" disabled={busy || (where === 'other' && !folder.trim())}>
        {busy ? 'Restoring…' : 'Restore'}
      </button>
      {busy && (
        <div className="run-progress" role="status">
          {progress && progress.bytesTotal > 0 ? <progress aria-label="Restore progress" max={progress.bytesTotal} value={progress.bytesDone} /> : <progress aria-label="Restore progress" />}
          {progress && (
            <span className="progress-figures">
              {bytes(progress.bytesDone)} of {bytes(progress.bytesTotal)} · {count(progress.filesDone)} files · {rate(progress.throughput)}
            </span>
          )}
        </div>
      )}
      {error && <p className="error" role="alert">Restore failed: {error}</p>}
      {result && (
        <p role="status" className={result.errors.length ? 'warning' : 'ok'}>
          Restored {count(result.files)} files and {count(result.dirs)} folders ({bytes(result.bytes)})
          {result.errors.length > 0 && `, ${count(result.errors.length)} errors: ${result.errors.slice(0, 3).map((x) => `${x.path}: ${x.message}`).join('; ')}`}.
        </p>
      )}
    </form>
  );
}
