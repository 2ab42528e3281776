import type { RestoreTestDue } from '../../../shared/restore-test.js';

const LABELS: Record<RestoreTestDue['state'], { text: string; css: string }> = {
  'not-due': { text: 'Tested', css: 'badge-success' },
  'due-soon': { text: 'Due soon', css: 'badge-partial' },
  due: { text: 'Due', css: 'badge-partial' },
  overdue: { text: 'Overdue', css: 'badge-failed' },
  'never-tested': { text: 'Never tested', css: 'badge-failed' },
};

/** A job's restore-test state as a badge, with the service's sentence (dates) beside it. */
export function RestoreTestDueBadge({ due, withMessage = true }: { due: RestoreTestDue; withMessage?: boolean }) {
  const l = LABELS[due.state];
  return (
    <span className="restore-test-due" data-state={due.state}>
      <span className={`badge ${l.css}`} title={due.message}>
        {l.text}
      </span>
      {withMessage && <span className="small muted"> {due.message}</span>}
    </span>
  );
}
