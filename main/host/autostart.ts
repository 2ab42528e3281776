import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the freedesktop autostart entry for Lifeboat lives. */
export function linuxAutostartFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'autostart', 'lifeboat.desktop');
}

/**
 * Start at login on Linux (Electron's login items cover only macOS and
 * Windows): writes or removes a freedesktop autostart entry that starts the
 * app hidden in the tray. `command` is the executable and its arguments.
 */
export function setLinuxAutostart(enabled: boolean, command: string[], file = linuxAutostartFile()): void {
  if (!enabled) {
    rmSync(file, { force: true });
    return;
  }
  const exec = command.map(desktopExecArgument).join(' ');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, ['[Desktop Entry]', 'Type=Application', 'Name=Lifeboat', 'Comment=Backups for small sites', `Exec=${exec}`, 'X-GNOME-Autostart-enabled=true', ''].join('\n'));
}

/**
 * One argument of a desktop entry's Exec key: double-quoted with \\, ", ` and $
 * backslash-escaped, then the string-value escape (every backslash doubled),
 * and % doubled (field codes).
 */
export function desktopExecArgument(arg: string): string {
  const quoted = arg.replace(/([\\"`$])/g, '\\$1');
  return `"${quoted.replace(/\\/g, '\\\\').replace(/%/g, '%%')}"`;
}
