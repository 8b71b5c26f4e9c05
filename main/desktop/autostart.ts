/**
 * Start on login, the parts that are not Electron's: on Linux, the XDG autostart entry
 * (`$XDG_CONFIG_HOME/autostart/cortex-hub.desktop`, ~/.config when unset) that desktop
 * sessions run at login, written or removed here; on macOS and Windows main.ts asks
 * `app.setLoginItemSettings` with the same command. No `electron` import: tested under Node.
 */
import fs from 'node:fs';
import path from 'node:path';

export const AUTOSTART_FILE_NAME = 'cortex-hub.desktop';
/** The flag an autostarted app is given: it starts in the tray, without a window. */
export const HIDDEN_FLAG = '--hidden';

/** Where the autostart entry goes (XDG Base Directory: a relative XDG_CONFIG_HOME is ignored). */
export function autostartFile(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  const config = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.config');
  return path.join(config, 'autostart', AUTOSTART_FILE_NAME);
}

export interface LaunchFacts {
  /** process.execPath: the app's binary (or Electron's, run from a checkout). */
  execPath: string;
  isPackaged: boolean;
  /** app.getAppPath(): what Electron runs when it is not packaged. */
  appPath: string;
  /** $APPIMAGE: an AppImage runs from a temporary mount; the image itself must be started. */
  appImage?: string;
  /** --data, when the app was started with one (the autostarted app uses the same hub). */
  dataDir?: string;
}

/** The command line that starts this app again, in the tray. */
export function loginCommand(f: LaunchFacts): string[] {
  const program = f.appImage && path.isAbsolute(f.appImage) ? [f.appImage] : f.isPackaged ? [f.execPath] : [f.execPath, f.appPath];
  return [...program, ...(f.dataDir ? ['--data', path.resolve(f.dataDir)] : []), HIDDEN_FLAG];
}

/**
 * One argument of an Exec key (Desktop Entry Specification, "The Exec key"): quoted when it has
 * a reserved character, `"` `` ` `` `$` `\` escaped inside quotes, `%` doubled, then the value's
 * own escaping (a backslash written twice). Control characters cannot be expressed: refused.
 */
export function execArg(arg: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(arg)) throw new Error(`cannot put a control character in an autostart command: ${JSON.stringify(arg)}`);
  const percent = arg.replace(/%/g, '%%');
  if (percent !== '' && !/[\s"'\\><~|&;$*?#()`]/.test(percent)) return percent;
  const quoted = `"${percent.replace(/["`$\\]/g, (c) => `\\${c}`)}"`;
  return quoted.replace(/\\/g, '\\\\');
}

/** The autostart entry's text. */
export function desktopEntry(command: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Cortex Hub',
    'Comment=Keeps the mirrors of your nodes (starts in the tray)',
    `Exec=${command.map(execArg).join(' ')}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export type AutostartResult = 'written' | 'removed' | 'unchanged';

/**
 * Writes the entry (whole: a temporary file renamed into place) when `content` is given,
 * removes it when null. 'unchanged' when the file already says that (or is already absent).
 */
export function setAutostart(file: string, content: string | null): AutostartResult {
  if (content === null) {
    try {
      fs.unlinkSync(file);
      return 'removed';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'unchanged';
      throw e;
    }
  }
  try {
    if (fs.readFileSync(file, 'utf8') === content) return 'unchanged';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, content, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return 'written';
}
