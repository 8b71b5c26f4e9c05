/**
 * Start on login on Linux (main/desktop/autostart.ts): the XDG autostart entry's place, its
 * Exec line quoted as the Desktop Entry Specification says, written whole and removed, in a
 * temporary XDG_CONFIG_HOME.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { autostartFile, desktopEntry, execArg, loginCommand, setAutostart } from '../../main/desktop/autostart';
import { tempDir } from '../helpers/procs';

const dir = tempDir('autostart');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('start on login (Linux autostart entry)', () => {
  it('goes to $XDG_CONFIG_HOME/autostart, or ~/.config/autostart when it is unset or relative', () => {
    expect(autostartFile({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/u')).toBe('/x/cfg/autostart/cortex-hub.desktop');
    expect(autostartFile({}, '/home/u')).toBe('/home/u/.config/autostart/cortex-hub.desktop');
    expect(autostartFile({ XDG_CONFIG_HOME: 'cfg' }, '/home/u')).toBe('/home/u/.config/autostart/cortex-hub.desktop');
    expect(autostartFile({ XDG_CONFIG_HOME: '' }, '/home/u')).toBe('/home/u/.config/autostart/cortex-hub.desktop');
  });

  it('starts the same app again, hidden in the tray, on the same data directory', () => {
    expect(loginCommand({ execPath: '/opt/Cortex Hub/cortex-hub', isPackaged: true, appPath: '/opt/x/app.asar' })).toEqual(['/opt/Cortex Hub/cortex-hub', '--hidden']);
    expect(loginCommand({ execPath: '/tmp/.mount_x/cortex-hub', isPackaged: true, appPath: '/a', appImage: '/home/u/Cortex.AppImage', dataDir: '/d' }))
      .toEqual(['/home/u/Cortex.AppImage', '--data', '/d', '--hidden']);
    expect(loginCommand({ execPath: '/src/node_modules/electron/dist/electron', isPackaged: false, appPath: '/src' }))
      .toEqual(['/src/node_modules/electron/dist/electron', '/src', '--hidden']);
  });

  it('quotes Exec arguments as the Desktop Entry Specification says', () => {
    expect(execArg('/opt/cortex/cortex-hub')).toBe('/opt/cortex/cortex-hub');
    expect(execArg('/opt/Cortex Hub/bin')).toBe('"/opt/Cortex Hub/bin"');
    expect(execArg('100%')).toBe('100%%');
    expect(execArg('a"b$c`d')).toBe('"a\\\\"b\\\\$c\\\\`d"');
    expect(execArg('C:\\x y')).toBe('"C:\\\\\\\\x y"');
    expect(execArg('')).toBe('""');
    expect(() => execArg('a\nb')).toThrow(/control character/);
    const entry = desktopEntry(['/opt/Cortex Hub/cortex-hub', '--data', '/home/u/my data', '--hidden']);
    expect(entry.split('\n')).toContain('Exec="/opt/Cortex Hub/cortex-hub" --data "/home/u/my data" --hidden');
    expect(entry.startsWith('[Desktop Entry]\nType=Application\nName=Cortex Hub\n')).toBe(true);
  });

  it('writes the entry whole, rewrites it only when it changes, and removes it', () => {
    const file = autostartFile({ XDG_CONFIG_HOME: path.join(dir, 'config') }, '/nonexistent');
    const a = desktopEntry(['/opt/a', '--hidden']);
    const b = desktopEntry(['/opt/b', '--hidden']);
    expect(setAutostart(file, a)).toBe('written');
    expect(fs.readFileSync(file, 'utf8')).toBe(a);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(setAutostart(file, a)).toBe('unchanged');
    expect(setAutostart(file, b)).toBe('written');
    expect(fs.readFileSync(file, 'utf8')).toBe(b);
    // No temporary file left beside it.
    expect(fs.readdirSync(path.dirname(file))).toEqual(['cortex-hub.desktop']);
    expect(setAutostart(file, null)).toBe('removed');
    expect(fs.existsSync(file)).toBe(false);
    expect(setAutostart(file, null)).toBe('unchanged');
  });

  it('reports a place it cannot write to instead of pretending', () => {
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, 'x');
    expect(() => setAutostart(autostartFile({ XDG_CONFIG_HOME: blocker }, '/'), desktopEntry(['/a']))).toThrow(/ENOTDIR|EEXIST/);
  });
});
