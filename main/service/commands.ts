import { spawn } from 'node:child_process';

/** Output and outcome of a pre/post command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

const MAX_OUTPUT = 256 * 1024;

/**
 * Runs a job's pre/post command through the platform shell, capturing
 * stdout and stderr together (last 256 KiB), with extra environment
 * (LIFEBOAT_JOB, LIFEBOAT_RUN_ID, ...). Aborting kills the command.
 */
export function runShellCommand(command: string, env: Record<string, string>, signal?: AbortSignal): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let output = '';
    const add = (b: Buffer) => {
      output += b.toString('utf8');
      if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    child.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ABORT_ERR') resolve({ code: null, signal: 'SIGTERM', output });
      else reject(e);
    });
    child.on('close', (code, sig) => resolve({ code, signal: sig, output }));
  });
}
