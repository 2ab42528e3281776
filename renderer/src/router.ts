/** Hash routes (the host serves one page; Electron loads it from a file). */
import { useEffect, useState } from 'react';

export type Route =
  | { view: 'dashboard' }
  | { view: 'jobs' }
  | { view: 'job-new' }
  | { view: 'job-edit'; jobId: number }
  | { view: 'activity'; runId: number | null }
  | { view: 'restore-test'; jobId: number | null }
  | { view: 'snapshots'; repositoryId: number | null }
  | { view: 'settings' }
  | { view: 'setup' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const id = (s: string | undefined) => (s && /^\d+$/.test(s) ? Number(s) : null);
  if (parts[0] === 'jobs') {
    if (parts[1] === 'new') return { view: 'job-new' };
    const jobId = id(parts[1]);
    return jobId ? { view: 'job-edit', jobId } : { view: 'jobs' };
  }
  if (parts[0] === 'activity') return { view: 'activity', runId: id(parts[1]) };
  if (parts[0] === 'restore-test') return { view: 'restore-test', jobId: id(parts[1]) };
  if (parts[0] === 'snapshots') return { view: 'snapshots', repositoryId: id(parts[1]) };
  if (parts[0] === 'settings') return { view: 'settings' };
  if (parts[0] === 'setup') return { view: 'setup' };
  return { view: 'dashboard' };
}

export function href(route: Route): string {
  switch (route.view) {
    case 'dashboard':
      return '#/';
    case 'jobs':
      return '#/jobs';
    case 'job-new':
      return '#/jobs/new';
    case 'job-edit':
      return `#/jobs/${route.jobId}`;
    case 'activity':
      return route.runId ? `#/activity/${route.runId}` : '#/activity';
    case 'restore-test':
      return route.jobId ? `#/restore-test/${route.jobId}` : '#/restore-test';
    case 'snapshots':
      return route.repositoryId ? `#/snapshots/${route.repositoryId}` : '#/snapshots';
    case 'settings':
      return '#/settings';
    case 'setup':
      return '#/setup';
  }
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
