import type { Command } from 'commander';
import { formatBytes } from '../../../shared/format.js';
import { prune } from '../../engine/prune.js';
import { openCliRepository } from '../repository.js';
import type { RepoOptions } from '../options.js';

/** Adds `lifeboat prune [--dry-run] [--max-unused P%]`. */
export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('remove data no snapshot references; repack partly used packs; rewrite the index')
    .option('-n, --dry-run', 'only show what would be removed')
    .option('--max-unused <percent>', 'repack a partly used pack when more than this share of it is unused', '5%')
    .action(async (o: { dryRun?: boolean; maxUnused: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as RepoOptions & { json?: boolean; quiet?: boolean };
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(o.maxUnused);
      if (!m) throw new Error(`max-unused: ${JSON.stringify(o.maxUnused)} is not a percentage like 5%`);
      const repo = await openCliRepository(g);
      const lines: string[] = [];
      const res = await prune(repo, { dryRun: Boolean(o.dryRun), maxUnusedPercent: Number(m[1]), onLog: (l) => lines.push(l) });
      if (g.json) {
        process.stdout.write(JSON.stringify({ message_type: 'summary', dry_run: Boolean(o.dryRun), ...res }) + '\n');
        return;
      }
      if (!g.quiet) for (const l of lines) process.stdout.write(l + '\n');
      const verb = o.dryRun ? 'would free' : 'freed';
      process.stdout.write(
        `${res.deletePacks.length} unused packs, ${res.repackPacks.length} repacked: ${verb} ${formatBytes(res.bytesFreed)} ` +
          `(repository ${formatBytes(res.totalBytes)}, ${formatBytes(res.unusedBytes)} unused)\n`,
      );
    });
}
