import { useCallback, useEffect, useMemo, useState } from 'react';
import { events, useConnectionState } from './events.js';
import { href, useRoute, type Route } from './router.js';
import { NoticeContext, type NoticeApi } from './components/Notice.js';
import { Dashboard } from './views/Dashboard.js';
import { JobsList } from './views/JobsList.js';
import { JobEditor } from './views/JobEditor.js';
import { Activity } from './views/Activity.js';
import { RestoreTestWizard } from './views/RestoreTestWizard.js';
import { Snapshots } from './views/Snapshots.js';
import { Settings } from './views/Settings.js';
import { Setup } from './views/Setup.js';

const NAV: { label: string; route: Route; views: Route['view'][] }[] = [
  { label: 'Dashboard', route: { view: 'dashboard' }, views: ['dashboard'] },
  { label: 'Jobs', route: { view: 'jobs' }, views: ['jobs', 'job-new', 'job-edit'] },
  { label: 'Activity', route: { view: 'activity', runId: null }, views: ['activity'] },
  { label: 'Snapshots', route: { view: 'snapshots', repositoryId: null }, views: ['snapshots'] },
  { label: 'Restore test', route: { view: 'restore-test', jobId: null }, views: ['restore-test'] },
  { label: 'Settings', route: { view: 'settings' }, views: ['settings', 'setup'] },
];

export function App() {
  const route = useRoute();
  const connection = useConnectionState();
  const [notice, setNotice] = useState<{ text: string; kind: 'info' | 'error'; id: number } | null>(null);
  useEffect(() => events.connect(), []);
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => setNotice(null), 6000);
    return () => clearTimeout(t);
  }, [notice]);
  const notify = useCallback<NoticeApi['notify']>((text, kind = 'info') => setNotice({ text, kind, id: Date.now() }), []);
  const noticeApi = useMemo(() => ({ notify }), [notify]);

  return (
    <NoticeContext.Provider value={noticeApi}>
      <button type="button" className="skip-link" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="app-header">
        <span className="brand">Lifeboat</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.label}>
                <a href={href(n.route)} aria-current={n.views.includes(route.view) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className={`connection connection-${connection}`} title="Live updates from the service">
          {connection === 'open' ? 'Live' : connection === 'connecting' ? 'Connecting…' : 'Offline: reconnecting'}
        </span>
      </header>
      <div className="notice-area" role="status" aria-live="polite">
        {notice && <p className={`notice notice-${notice.kind}`} key={notice.id}>{notice.text}</p>}
      </div>
      <main id="main" tabIndex={-1}>
        {route.view === 'dashboard' && <Dashboard />}
        {route.view === 'jobs' && <JobsList />}
        {route.view === 'job-new' && <JobEditor jobId={null} />}
        {route.view === 'job-edit' && <JobEditor key={route.jobId} jobId={route.jobId} />}
        {route.view === 'activity' && <Activity runId={route.runId} />}
        {route.view === 'restore-test' && <RestoreTestWizard key={route.jobId ?? 0} jobId={route.jobId} />}
        {route.view === 'snapshots' && <Snapshots key={route.repositoryId} repositoryId={route.repositoryId} />}
        {route.view === 'settings' && <Settings />}
        {route.view === 'setup' && <Setup />}
      </main>
    </NoticeContext.Provider>
  );
}
