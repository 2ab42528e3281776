/**
 * Progress of a long operation (backup, restore, check), emitted by the
 * engine for the UI and the CLI. Emitted at most a few times a second, plus
 * once at the end of each phase.
 */
export interface OperationProgress {
  operation: 'backup' | 'restore' | 'check' | 'restore-test';
  /** What is happening now: scanning sources, reading files, writing, verifying, finishing. */
  phase: 'scanning' | 'reading' | 'writing' | 'verifying' | 'finishing' | 'done';
  filesTotal: number;
  filesDone: number;
  bytesTotal: number;
  bytesDone: number;
  /** Backup: plaintext bytes new to the repository. */
  bytesAdded: number;
  /** Backup: bytes those took in packs (compressed, encrypted). */
  bytesStored: number;
  /** Backup: bytes of packs the target has stored so far (packs built but not yet uploaded are not counted). */
  bytesUploaded?: number;
  currentFile?: string;
  elapsedMs: number;
  /** Bytes per second over the operation so far. */
  throughput: number;
  /** Estimated milliseconds left, when it can be estimated. */
  etaMs?: number;
  errors: number;
}

/** Fills the derived fields (throughput, ETA) of a progress report. */
export function withRates(p: Omit<OperationProgress, 'throughput' | 'etaMs'>): OperationProgress {
  const secs = p.elapsedMs / 1000;
  const throughput = secs > 0 ? p.bytesDone / secs : 0;
  const out: OperationProgress = { ...p, throughput };
  if (throughput > 0 && p.bytesTotal >= p.bytesDone && p.phase !== 'scanning') out.etaMs = ((p.bytesTotal - p.bytesDone) / throughput) * 1000;
  return out;
}
