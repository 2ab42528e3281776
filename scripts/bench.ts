/**
 * Lifeboat vs restic on the same generated corpus (scripts/corpus.ts), in one run:
 * first backup, unchanged re-run, full restore (verified against the corpus),
 * repository size on disk, and each step's peak RSS.
 *
 *   npm run bench -- [--size-mb 1024] [--work bench-work] [--seed 1] [--repeat 1] [--sample 200] [--keep] [--json]
 *
 * With --repeat N the tools run N times, interleaved, and each figure is the median.
 * With --json the results go to stdout as JSON and the table to stderr.
 *
 * Both tools get fresh repositories in the work folder; their caches (restic's,
 * Lifeboat's folder cache) go to `<work>/tool-cache` (fresh too). The page cache cannot be dropped, so the
 * corpus is read once before each tool's backups and `sync` runs before every
 * timed step: both tools see a warm cache and no pending writeback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_WORK, ensureCorpus, listFiles, parseCommonArgs, PROJECT_ROOT, treeStats, type Corpus } from './corpus.js';

const MiB = 1024 * 1024;
const CLOCK_TICKS = 100; // USER_HZ on Linux
const POLL_MS = 50;
const OUTPUT_LIMIT = 256 * 1024;

type ToolName = 'lifeboat' | 'restic';

interface RunResult {
  seconds: number;
  /** Peak resident set (VmHWM) seen while polling, in bytes. */
  peakRss: number;
  /** User + system CPU time of the process (all threads), seconds, as last seen. */
  cpuSeconds: number;
  stdout: string;
  stderr: string;
}

interface StepResult {
  seconds: number;
  peakRss: number;
  cpuSeconds: number;
  summary?: Record<string, unknown>;
}

interface RestoreCheck {
  files: number;
  bytes: number;
  sampled: number;
  sampledBytes: number;
}

interface ToolResult {
  tool: ToolName;
  version: string;
  firstBackup: StepResult;
  rerun: StepResult;
  restore: StepResult & { verified: RestoreCheck };
  /** `snapshots` command: start-up, repository open (key derivation) and listing; the fixed cost in every step. */
  snapshots: StepResult;
  repoBytes: number;
  repoFiles: number;
}

interface GoalLine {
  name: string;
  unit: string;
  lifeboat: number;
  restic: number;
  ratio: number;
  goal?: number;
  pass?: boolean;
}

export interface BenchResult {
  date: string;
  machine: { cores: number; cpu: string; memory: number; node: string; loadBefore: number[]; loadAfter: number[] };
  /** Each figure is the median over this many runs (tools interleaved). */
  repeat: number;
  corpus: { sizeMb: number; seed: number; files: number; dirs: number; bytes: number; dir: string };
  tools: Record<ToolName, ToolResult>;
  runs: Record<ToolName, ToolResult[]>;
  lines: GoalLine[];
}

class BenchError extends Error {}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

// ---------------------------------------------------------------- running a tool

function readProc(pid: number): { hwm: number; cpu: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14, stime 15 (1-based over the whole line).
    const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    return { hwm: m ? Number(m[1]) * 1024 : 0, cpu };
  } catch {
    return undefined; // exited between polls
  }
}

function appendLimited(prev: string, chunk: string): string {
  const s = prev + chunk;
  return s.length > OUTPUT_LIMIT ? s.slice(s.length - OUTPUT_LIMIT) : s;
}

/** Runs a command to completion, timing it and polling its peak RSS; a non-zero exit throws with its output. */
function runTool(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    let cpuSeconds = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = appendLimited(stdout, d)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = appendLimited(stderr, d)));
    const poll = () => {
      if (child.pid === undefined) return;
      const p = readProc(child.pid);
      if (p) {
        peakRss = Math.max(peakRss, p.hwm);
        cpuSeconds = Math.max(cpuSeconds, p.cpu);
      }
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    child.on('error', (e) => {
      clearInterval(timer);
      reject(new BenchError(`${label}: cannot start ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) {
        reject(
          new BenchError(
            `${label}: \`${cmd} ${args.join(' ')}\` exited with ${code ?? signal}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
          ),
        );
        return;
      }
      resolvePromise({ seconds, peakRss, cpuSeconds, stdout, stderr });
    });
  });
}

/** The last JSON line of `stdout` with message_type "summary", if any. */
function summaryOf(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.message_type === 'summary') return o;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- the tools

interface Tool {
  name: ToolName;
  version(): string;
  init(repo: string): Promise<unknown>;
  backup(repo: string, source: string): Promise<RunResult>;
  restore(repo: string, target: string): Promise<RunResult>;
  snapshots(repo: string): Promise<RunResult>;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('RESTIC_') || k.startsWith('LIFEBOAT_') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function lifeboatTool(passwordFile: string, cacheDir: string): Tool {
  const entry = join(PROJECT_ROOT, 'bin', 'lifeboat.js');
  const env = cleanEnv({});
  const cli = (repo: string, ...rest: string[]) => [entry, '-r', repo, '--password-file', passwordFile, '--cache-dir', cacheDir, ...rest];
  return {
    name: 'lifeboat',
    version: () => spawnSync(process.execPath, [entry, '--version'], { encoding: 'utf8' }).stdout.trim(),
    init: (repo) => runTool('lifeboat init', process.execPath, cli(repo, 'init'), env),
    backup: (repo, source) => runTool('lifeboat backup', process.execPath, cli(repo, '--json', 'backup', source), env),
    restore: (repo, target) => runTool('lifeboat restore', process.execPath, cli(repo, '--json', 'restore', 'latest', '--target', target), env),
    snapshots: (repo) => runTool('lifeboat snapshots', process.execPath, cli(repo, '--json', 'snapshots'), env),
  };
}

function resticTool(passwordFile: string, cacheDir: string): Tool {
  const env = cleanEnv({ RESTIC_PASSWORD_FILE: passwordFile });
  const cli = (repo: string, ...rest: string[]) => ['-r', repo, '--cache-dir', cacheDir, ...rest];
  return {
    name: 'restic',
    version: () => spawnSync('restic', ['version'], { encoding: 'utf8' }).stdout.trim(),
    init: (repo) => runTool('restic init', 'restic', cli(repo, '--quiet', 'init'), env),
    backup: (repo, source) => runTool('restic backup', 'restic', cli(repo, '--json', '--quiet', 'backup', source), env),
    restore: (repo, target) => runTool('restic restore', 'restic', cli(repo, '--quiet', 'restore', 'latest', '--target', target), env),
    snapshots: (repo) => runTool('restic snapshots', 'restic', cli(repo, '--json', 'snapshots'), env),
  };
}

// ---------------------------------------------------------------- helpers

/** Reads every corpus file once so that the page cache is warm for whoever comes next. */
function warmUp(dir: string): number {
  const buf = Buffer.allocUnsafe(4 * MiB);
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const fd = openSync(p, 'r');
        try {
          let n: number;
          while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) total += n;
        } finally {
          closeSync(fd);
        }
      }
    }
  };
  walk(dir);
  return total;
}

function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

function sameContent(a: string, b: string): boolean {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.allocUnsafe(4 * MiB);
  const bb = Buffer.allocUnsafe(4 * MiB);
  try {
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, null);
      let nb = 0;
      while (nb < na) {
        const n = readSync(fb, bb, nb, na - nb, null);
        if (n === 0) break;
        nb += n;
      }
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return readSync(fb, bb, 0, 1, null) === 0;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/**
 * Checks a restore against the corpus: same file list with the same sizes (so the
 * same count and total bytes), and byte-identical content for a sample of files
 * (evenly spread over the sorted list, plus the largest file).
 */
function verifyRestore(tool: ToolName, corpusDir: string, expected: Map<string, number>, target: string, sample: number): RestoreCheck {
  const root = join(target, corpusDir);
  if (!existsSync(root)) throw new BenchError(`${tool} restore: ${root} does not exist (restored top level: ${readdirSync(target).join(', ')})`);
  const actual = listFiles(root);
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const problems: string[] = [];
  if (actual.size !== expected.size) problems.push(`${actual.size} files restored, ${expected.size} in the corpus`);
  if (sum(actual) !== sum(expected)) problems.push(`${sum(actual)} bytes restored, ${sum(expected)} in the corpus`);
  for (const [p, size] of expected) {
    const got = actual.get(p);
    if (got === undefined) problems.push(`missing: ${p}`);
    else if (got !== size) problems.push(`size of ${p}: ${got}, expected ${size}`);
    if (problems.length > 20) break;
  }
  const paths = [...expected.keys()];
  const chosen = new Set<string>();
  const step = Math.max(1, Math.floor(paths.length / sample));
  for (let i = 0; i < paths.length; i += step) chosen.add(paths[i]!);
  let largest = paths[0];
  for (const p of paths) if ((expected.get(p) ?? 0) > (expected.get(largest!) ?? 0)) largest = p;
  if (largest) chosen.add(largest);
  let sampledBytes = 0;
  for (const p of chosen) {
    if (!actual.has(p)) continue;
    if (!sameContent(join(corpusDir, p), join(root, p))) problems.push(`content differs: ${p}`);
    sampledBytes += expected.get(p) ?? 0;
  }
  if (problems.length) throw new BenchError(`${tool} restore does not match the corpus:\n  ${problems.slice(0, 20).join('\n  ')}`);
  return { files: actual.size, bytes: sum(actual), sampled: chosen.size, sampledBytes };
}

async function benchTool(tool: Tool, work: string, corpus: Corpus, expected: Map<string, number>, sample: number): Promise<ToolResult> {
  const repo = join(work, `repo-${tool.name}`);
  const target = join(work, `restore-${tool.name}`);
  rmSync(repo, { recursive: true, force: true });
  rmSync(target, { recursive: true, force: true });
  const version = tool.version();
  log(`${tool.name}: ${version}`);
  await tool.init(repo);

  const step = async (name: string, f: () => Promise<RunResult>): Promise<StepResult> => {
    syncDisks();
    const r = await f();
    const summary = summaryOf(r.stdout);
    let detail = '';
    if (summary && typeof summary.files_new === 'number') {
      const inner =
        typeof summary.total_duration === 'number'
          ? summary.total_duration
          : typeof summary.backup_start === 'string' && typeof summary.backup_end === 'string'
            ? (Date.parse(summary.backup_end) - Date.parse(summary.backup_start)) / 1000
            : undefined;
      detail = `  files ${summary.files_new} new, ${summary.files_changed} changed, ${summary.files_unmodified} unmodified${inner !== undefined ? `; ${inner.toFixed(2)} s by its own clock` : ''}`;
    }
    log(`  ${name.padEnd(16)} ${r.seconds.toFixed(2).padStart(8)} s  peak RSS ${(r.peakRss / MiB).toFixed(0).padStart(5)} MiB  CPU ${r.cpuSeconds.toFixed(1)} s${detail}`);
    return { seconds: r.seconds, peakRss: r.peakRss, cpuSeconds: r.cpuSeconds, ...(summary ? { summary } : {}) };
  };

  const warmed = warmUp(corpus.dir);
  log(`  warm-up: read ${(warmed / MiB).toFixed(0)} MiB`);
  const firstBackup = await step('first backup', () => tool.backup(repo, corpus.dir));
  const rerun = await step('unchanged re-run', () => tool.backup(repo, corpus.dir));
  const restoreStep = await step('restore', () => tool.restore(repo, target));
  const list = await step('snapshots', () => tool.snapshots(repo));
  const verified = verifyRestore(tool.name, corpus.dir, expected, target, sample);
  log(`  restore verified: ${verified.files} files, ${verified.bytes} bytes; ${verified.sampled} files byte-compared (${(verified.sampledBytes / MiB).toFixed(0)} MiB)`);
  rmSync(target, { recursive: true, force: true });
  const rs = treeStats(repo);
  log(`  repository: ${(rs.bytes / MiB).toFixed(1)} MiB in ${rs.files} files`);
  return { tool: tool.name, version, firstBackup, rerun, restore: { ...restoreStep, verified }, snapshots: list, repoBytes: rs.bytes, repoFiles: rs.files };
}

// ---------------------------------------------------------------- report

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per-figure medians over several runs of one tool (the first run's summaries are kept). */
function medianResult(rs: ToolResult[]): ToolResult {
  const first = rs[0]!;
  if (rs.length === 1) return first;
  const stepMedian = <S extends StepResult>(pick: (r: ToolResult) => S): S => ({
    ...pick(first),
    seconds: median(rs.map((r) => pick(r).seconds)),
    peakRss: median(rs.map((r) => pick(r).peakRss)),
    cpuSeconds: median(rs.map((r) => pick(r).cpuSeconds)),
  });
  return {
    ...first,
    firstBackup: stepMedian((r) => r.firstBackup),
    rerun: stepMedian((r) => r.rerun),
    restore: stepMedian((r) => r.restore),
    snapshots: stepMedian((r) => r.snapshots),
    repoBytes: median(rs.map((r) => r.repoBytes)),
  };
}

function goalLines(l: ToolResult, r: ToolResult): GoalLine[] {
  const line = (name: string, unit: string, a: number, b: number, goal?: number): GoalLine => {
    const ratio = b > 0 ? a / b : Number.POSITIVE_INFINITY;
    return { name, unit, lifeboat: a, restic: b, ratio, ...(goal !== undefined ? { goal, pass: ratio <= goal } : {}) };
  };
  return [
    line('first backup', 's', l.firstBackup.seconds, r.firstBackup.seconds, 1.0),
    line('unchanged re-run', 's', l.rerun.seconds, r.rerun.seconds, 0.5),
    line('restore', 's', l.restore.seconds, r.restore.seconds, 1.0),
    line('repository size', 'MiB', l.repoBytes / MiB, r.repoBytes / MiB, 1.02),
    line('peak RSS, first backup', 'MiB', l.firstBackup.peakRss / MiB, r.firstBackup.peakRss / MiB),
    line('peak RSS, re-run', 'MiB', l.rerun.peakRss / MiB, r.rerun.peakRss / MiB),
    line('peak RSS, restore', 'MiB', l.restore.peakRss / MiB, r.restore.peakRss / MiB),
    line('CPU time, first backup', 's', l.firstBackup.cpuSeconds, r.firstBackup.cpuSeconds),
    line('CPU time, re-run', 's', l.rerun.cpuSeconds, r.rerun.cpuSeconds),
    line('CPU time, restore', 's', l.restore.cpuSeconds, r.restore.cpuSeconds),
    line('`snapshots` command', 's', l.snapshots.seconds, r.snapshots.seconds),
  ];
}

export function formatTable(res: BenchResult): string {
  const fmt = (v: number, unit: string) => (unit === 'MiB' ? v.toFixed(1) : v.toFixed(2));
  const rows = res.lines.map((g) => [
    `${g.name} (${g.unit})`,
    fmt(g.lifeboat, g.unit),
    fmt(g.restic, g.unit),
    g.ratio.toFixed(2),
    g.goal !== undefined ? `≤ ${g.goal.toFixed(2)}` : '',
    g.pass === undefined ? '' : g.pass ? 'PASS' : 'MISS',
  ]);
  const header = ['', 'Lifeboat', 'restic', 'ratio', 'goal', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmtRow = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const c = res.corpus;
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  return [
    `date: ${res.date}; ${res.repeat > 1 ? `median of ${res.repeat} runs` : '1 run'}; load average ${load(res.machine.loadBefore)} before, ${load(res.machine.loadAfter)} after`,
    `corpus: ${c.sizeMb} MiB requested, ${c.files} files in ${c.dirs} folders, ${(c.bytes / MiB).toFixed(1)} MiB (seed ${c.seed})`,
    `machine: ${res.machine.cores} cores (${res.machine.cpu}), ${(res.machine.memory / 1024 ** 3).toFixed(0)} GiB RAM, Node ${res.machine.node}; ${res.tools.restic.version.split(' compiled')[0]}`,
    '',
    fmtRow(header),
    fmtRow(widths.map((w) => '-'.repeat(w))),
    ...rows.map(fmtRow),
  ].join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { sizeMb, work, seed, rest } = parseCommonArgs(process.argv.slice(2));
  let json = false;
  let keep = false;
  let repeat = 1;
  let sample = 200;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--json') json = true;
    else if (a === '--keep') keep = true;
    else if (a === '--repeat') repeat = Math.max(1, Math.floor(Number(rest[++i])) || 1);
    else if (a === '--sample') sample = Math.max(1, Number(rest[++i]) || 0);
    else throw new BenchError(`unknown argument ${a} (usage: bench.ts [--size-mb N] [--work DIR] [--seed N] [--repeat N] [--sample N] [--keep] [--json])`);
  }

  const entry = join(PROJECT_ROOT, 'dist', 'main', 'cli', 'lifeboat.js');
  if (!existsSync(entry)) throw new BenchError('Lifeboat is not built: run `npm run build` first');
  const builtAt = statSync(entry).mtimeMs;
  const srcAt = statSync(join(PROJECT_ROOT, 'main', 'cli', 'lifeboat.ts')).mtimeMs;
  if (srcAt > builtAt) log('warning: main/cli/lifeboat.ts is newer than dist/; run `npm run build` to bench the current sources');
  if (spawnSync('restic', ['version']).status !== 0) throw new BenchError('restic is not installed (apt-get install -y restic)');

  mkdirSync(work, { recursive: true });
  if (work === DEFAULT_WORK) log(`work folder: ${work}`);
  const corpus = ensureCorpus({ work, sizeMb, seed, log });
  const expected = listFiles(corpus.dir);
  const passwordFile = join(work, 'password');
  writeFileSync(passwordFile, 'lifeboat-bench\n', { mode: 0o600 });
  // Each tool's cache (restic's, Lifeboat's folder cache) starts empty at each tool's first backup.
  const cacheDir = join(work, 'tool-cache');
  rmSync(cacheDir, { recursive: true, force: true });

  const loadBefore = loadavg();
  const runs: Record<ToolName, ToolResult[]> = { lifeboat: [], restic: [] };
  for (let i = 0; i < repeat; i++) {
    if (repeat > 1) log(`run ${i + 1} of ${repeat}`);
    // The tools take turns going first: the second one's restore follows the first one's restore
    // being deleted, and ext4 is slower to create files where many were just deleted.
    const order: ToolName[] = i % 2 === 0 ? ['lifeboat', 'restic'] : ['restic', 'lifeboat'];
    for (const name of order) {
      rmSync(cacheDir, { recursive: true, force: true });
      // Made empty before the first backup, as an installed tool's cache folder would be: created during it, it would
      // change the work folder (on the way to the corpus, so in every snapshot) between the first backup and the re-run.
      mkdirSync(cacheDir);
      const tool = name === 'lifeboat' ? lifeboatTool(passwordFile, cacheDir) : resticTool(passwordFile, cacheDir);
      runs[name].push(await benchTool(tool, work, corpus, expected, sample));
    }
  }
  const loadAfter = loadavg();
  const lifeboat = medianResult(runs.lifeboat);
  const restic = medianResult(runs.restic);
  if (!keep) {
    for (const t of ['lifeboat', 'restic']) rmSync(join(work, `repo-${t}`), { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  }

  const m = corpus.manifest;
  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memory: totalmem(), node: process.versions.node, loadBefore, loadAfter },
    repeat,
    corpus: { sizeMb: m.sizeMb, seed: m.seed, files: m.files, dirs: m.dirs, bytes: m.bytes, dir: corpus.dir },
    tools: { lifeboat, restic },
    runs,
    lines: goalLines(lifeboat, restic),
  };
  if (json) {
    log('\n' + formatTable(result));
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else process.stdout.write('\n' + formatTable(result) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    await main();
  } catch (e) {
    process.stderr.write(`bench: ${e instanceof BenchError ? e.message : ((e as Error).stack ?? String(e))}\n`);
    process.exitCode = 1;
  }
}
