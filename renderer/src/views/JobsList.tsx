import { api } from '../api.js';
import { count, dateTime } from '../format.js';
import { href } from '../router.js';
import { PageHeading } from '../components/PageHeading.js';
import { RestoreTestDueBadge } from '../components/RestoreTestDueBadge.js';
import { useLoad } from '../useLoad.js';

/** Every job with its settings at a glance; each opens the editor. */
export function JobsList() {
  const data = useLoad(async () => {
    const [jobs, repos, stagger] = await Promise.all([api.listJobs(), api.listRepositories(), api.staggerAdvice()]);
    return { jobs, repos: new Map(repos.map((r) => [r.id, r.name])), stagger };
  }, []);
  const d = data.data;
  return (
    <section aria-labelledby="page-title">
      <PageHeading actions={<a className="button" href={href({ view: 'job-new' })}>New job</a>}>Jobs</PageHeading>
      {data.error && <p className="error" role="alert">Could not load the jobs: {data.error}</p>}
      {d && d.stagger.length > 0 && (
        <div className="warning" role="note">
          <strong>Stagger advice:</strong>
          <ul>
            {d.stagger.map((w) => (
              <li key={`${w.target}-${w.minute}`}>{w.message}</li>
            ))}
          </ul>
        </div>
      )}
      {d && d.jobs.length === 0 && <p className="empty">No jobs yet.</p>}
      {d && d.jobs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Repository</th>
              <th scope="col">Sources</th>
              <th scope="col">Schedule</th>
              <th scope="col">Overlap</th>
              <th scope="col">Workers</th>
              <th scope="col">Bandwidth</th>
              <th scope="col">Restore test</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {d.jobs.map(({ job, restoreTest }) => (
              <tr key={job.id}>
                <th scope="row">
                  <a href={href({ view: 'job-edit', jobId: job.id })}>{job.name}</a>
                  {!job.enabled && <span className="badge badge-disabled">Disabled</span>}
                </th>
                <td>{d.repos.get(job.repositoryId) ?? `#${job.repositoryId}`}</td>
                <td>
                  {job.sources.paths.join(', ')}
                  {job.sources.exclude.length > 0 && <div className="small muted">excluding {job.sources.exclude.join(', ')}</div>}
                </td>
                <td>{job.schedule ? <code>{job.schedule}</code> : <span className="muted">by hand only</span>}</td>
                <td>{job.overlap}</td>
                <td>{job.uploadWorkers}</td>
                <td>{job.bandwidth.limitKiBps === null ? 'unlimited' : `${count(job.bandwidth.limitKiBps)} KiB/s`}</td>
                <td className="restore-test">
                  <RestoreTestDueBadge due={restoreTest} withMessage={false} />
                  <div className="small muted">every {job.restoreTest.cadenceDays} days</div>
                </td>
                <td>{dateTime(job.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
