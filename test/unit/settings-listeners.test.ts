/**
 * The settings of notifications and start on login at the hub (a real HubService on a temp data
 * dir, through the contract's dispatch): the desktop app's hub keeps `startOnLogin` and tells
 * its listeners and the `settings` event of each change; a headless hub refuses it, changing
 * nothing and telling no one; a listener that throws is logged, not fatal; settings survive a reopen.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContractError, dispatch, type Settings } from '../../main/contract';
import { HubService } from '../../main/hub/hub-service';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-settings-'));
  dirs.push(d);
  return d;
};

describe('start on login and notification settings at the hub', () => {
  it('the desktop app\'s hub keeps startOnLogin and tells its listeners and subscribers', async () => {
    const dir = tempDir();
    const hub = await HubService.open({ dataDir: dir, mode: 'admin', consoleLevel: false, desktop: true });
    try {
      const heard: [boolean, Partial<Settings>][] = [];
      const events: Settings[] = [];
      hub.on('settings', (s) => events.push(s));
      hub.onSettingsChanged(() => { throw new Error('a broken listener'); });
      const off = hub.onSettingsChanged((next, patch) => heard.push([next.startOnLogin, patch]));
      await dispatch(hub.handlers(), 'settings.set', { startOnLogin: true });
      await dispatch(hub.handlers(), 'settings.set', { notifyOnProblems: false });
      off();
      await dispatch(hub.handlers(), 'settings.set', { startOnLogin: false });
      expect(heard).toEqual([[true, { startOnLogin: true }], [true, { notifyOnProblems: false }]]);
      expect(events.map((s) => [s.startOnLogin, s.notifyOnProblems])).toEqual([[true, true], [true, false], [false, false]]);
      await dispatch(hub.handlers(), 'settings.set', { startOnLogin: true, notifyDisconnectedAfterSeconds: 30 });
    } finally {
      await hub.close();
    }
    const again = await HubService.open({ dataDir: dir, mode: 'admin', consoleLevel: false, desktop: true });
    try {
      expect(again.settings()).toMatchObject({ startOnLogin: true, notifyDisconnectedAfterSeconds: 30, notifyOnProblems: false });
    } finally {
      await again.close();
    }
  });

  it('a headless hub refuses startOnLogin, changing nothing and telling no one', async () => {
    const hub = await HubService.open({ dataDir: tempDir(), mode: 'admin', consoleLevel: false });
    try {
      const events: Settings[] = [];
      hub.on('settings', (s) => events.push(s));
      const refused = await dispatch(hub.handlers(), 'settings.set', { startOnLogin: true, notifyOnConflicts: false }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ContractError);
      expect(refused).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^startOnLogin: only the desktop app starts on login/) });
      expect(hub.settings()).toMatchObject({ startOnLogin: false, notifyOnConflicts: true });
      expect(events).toEqual([]);
    } finally {
      await hub.close();
    }
  });
});
