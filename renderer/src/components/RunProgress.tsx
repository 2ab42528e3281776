import type { RunRecord } from '../../../shared/jobs.js';
import type { OperationProgress } from '../../../shared/progress.js';
import { bytes, count, duration, rate } from '../format.js';

/** One active run: a progress bar with bytes, files, throughput and ETA from its runProgress events. */
export function RunProgress({ run, progress }: { run: RunRecord; progress: OperationProgress | undefined }) {
  const label = `Run ${run.id} progress`;
  if (run.status === 'queued') {
    return (
      <div className="run-progress">
        <span className="muted">Waiting: {run.phase ?? run.reason ?? 'in line'}</span>
      </div>
    );
  }
  if (!progress) {
    return (
      <div className="run-progress">
        <progress aria-label={label} />
        <span className="muted">{run.phase ?? 'starting'}</span>
      </div>
    );
  }
  const determinate = progress.phase !== 'scanning' && progress.bytesTotal > 0;
  const pct = determinate ? Math.min(100, (progress.bytesDone / progress.bytesTotal) * 100) : null;
  return (
    <div className="run-progress">
      {determinate ? <progress aria-label={label} max={progress.bytesTotal} value={progress.bytesDone} /> : <progress aria-label={label} />}
      <span className="progress-figures">
        <strong>{pct === null ? progress.phase : `${Math.floor(pct)}%`}</strong>
        {' · '}
        {bytes(progress.bytesDone)} of {bytes(progress.bytesTotal)}
        {' · '}
        {count(progress.filesDone)} of {count(progress.filesTotal)} files
        {' · '}
        {rate(progress.throughput)}
        {progress.etaMs !== undefined && ` · ETA ${duration(progress.etaMs)}`}
        {progress.bytesAdded > 0 && ` · ${bytes(progress.bytesAdded)} new`}
        {progress.errors > 0 && ` · ${count(progress.errors)} unreadable`}
      </span>
      {run.phase && <span className="muted">{run.phase}</span>}
    </div>
  );
}
