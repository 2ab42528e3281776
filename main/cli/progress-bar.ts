import { formatBytes, formatDuration } from '../../shared/format.js';
import type { OperationProgress } from '../../shared/progress.js';

/**
 * A one-line progress display for terminals. Writes nothing when the stream
 * is not a TTY (piped output stays clean).
 */
export class ProgressBar {
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return Boolean(this.out.isTTY);
  }

  update(p: OperationProgress): void {
    if (!this.enabled) return;
    const pct = p.bytesTotal > 0 ? ((100 * p.bytesDone) / p.bytesTotal).toFixed(1) : '0.0';
    const eta = p.etaMs !== undefined ? ` ETA ${formatDuration(p.etaMs)}` : '';
    const errs = p.errors ? ` ${p.errors} errors` : '';
    let line = `[${formatDuration(p.elapsedMs)}] ${p.phase} ${pct}% ${p.filesDone}/${p.filesTotal} files ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} ${formatBytes(p.throughput)}/s${eta}${errs}`;
    if (p.currentFile) line += ` ${p.currentFile}`;
    const width = this.out.columns || 100;
    if (line.length > width - 1) line = line.slice(0, width - 2) + '…';
    this.out.write(`\r\x1b[K${line}`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}
