import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../main/cli/progress-bar.js';
import type { OperationProgress } from '../../shared/progress.js';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, s: { isTTY, columns: 120, write: (t: string) => written.push(t) > 0 } as unknown as NodeJS.WriteStream };
}

const p: OperationProgress = {
  operation: 'backup', phase: 'reading', filesTotal: 200, filesDone: 50, bytesTotal: 4 * 1024 ** 3, bytesDone: 1024 ** 3,
  bytesAdded: 0, bytesStored: 0, elapsedMs: 10_000, throughput: 100 * 1024 ** 2, etaMs: 30_000, errors: 2, currentFile: '/srv/share/report.pdf',
};

describe('ProgressBar', () => {
  it('redraws one line on a terminal with percentage, files, bytes, rate, ETA, errors and the current file', () => {
    const { written, s } = stream(true);
    const bar = new ProgressBar(s);
    bar.update(p);
    expect(written[0]!.startsWith("\r\u001b[K")).toBe(true);
    expect(written[0]).toMatch(/^\r.\[K\[0:10\] reading 25\.0% 50\/200 files 1\.000 GiB\/4\.000 GiB 100\.000 MiB\/s ETA 0:30 2 errors \/srv\/share\/report\.pdf$/);
    bar.clear();
    expect(written[1]).toBe('\r\x1b[K');
  });

  it('writes nothing when output is not a terminal', () => {
    const { written, s } = stream(false);
    const bar = new ProgressBar(s);
    bar.update(p);
    bar.clear();
    expect(written).toEqual([]);
  });

  it('never wraps: the line is cut to the terminal width', () => {
    const { written, s } = stream(true);
    (s as { columns: number }).columns = 40;
    new ProgressBar(s).update(p);
    expect(written[0]!.replace('\r\x1b[K', '').length).toBeLessThanOrEqual(39);
  });
});
