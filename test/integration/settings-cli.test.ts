/**
 * `cortex-hub settings` and `settings set KEY=VALUE...`: on a data directory with no hub
 * running (the CLI opens it itself) and on a running `cortex-hub serve` (applied at once), text
 * and --json; a wrong key or value is a usage error naming what is accepted, and changes nothing.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Settings } from '../../main/contract';
import { Hub, runCli, tempDir } from '../helpers/procs';

describe('cortex-hub settings', () => {
  const dir = tempDir('settings-cli');
  let hub: Hub | undefined;
  afterAll(async () => {
    await hub?.stop();
  });

  it('lists, changes and keeps the settings of a data directory no hub runs on; refuses what the schema or the hub refuses', async () => {
    const data = path.join(dir, 'idle');
    const cli = (...args: string[]) => runCli('cortex-hub', [...args, '--data', data]);
    const shown = await cli('settings');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^trashRetentionDays\s+7\s+1-3650$/m);
    expect(shown.stdout).toMatch(/^mirrorModes\s+private\s+private \| exact$/m);

    const set = await cli('settings', 'set', 'trashRetentionDays=14', 'notifyOnConflicts=false', 'logLevel=info');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('trashRetentionDays: 7 -> 14\nnotifyOnConflicts: true -> false\nlogLevel: info (unchanged)\n');

    for (const [args, why] of [
      [['trashRetentionDays=0'], 'trashRetentionDays accepts 1-3650, not "0"'],
      [['notifyOnConflicts=yes'], 'notifyOnConflicts accepts true | false, not "yes"'],
      [['mirrorModes=loose'], 'mirrorModes accepts private | exact, not "loose"'],
      [['colour=blue'], 'unknown setting "colour"; the settings are: logLevel,'],
      [['trashRetentionDays'], 'expected KEY=VALUE, got "trashRetentionDays"'],
      [['agentHistoryDays=3', 'agentHistoryDays=4'], 'setting "agentHistoryDays" given twice'],
      [[], 'usage: cortex-hub settings set KEY=VALUE'],
    ] as const) {
      const r = await cli('settings', 'set', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(why);
    }
    // The hub's own refusal (the schema allows the value; a headless hub does not start on login).
    const login = await cli('settings', 'set', 'startOnLogin=true');
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/^cortex-hub: BAD_REQUEST: startOnLogin: only the desktop app starts on login/);

    const after = await cli('settings', '--json');
    const s = JSON.parse(after.stdout) as Settings;
    expect(s).toMatchObject({ trashRetentionDays: 14, notifyOnConflicts: false, agentHistoryDays: 90, startOnLogin: false });
  });

  it('changes a running hub\'s settings at once', async () => {
    const data = path.join(dir, 'running');
    hub = await Hub.start(data);
    const r = await runCli('cortex-hub', ['settings', 'set', 'changesRetentionDays=3', '--json', '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Settings).changesRetentionDays).toBe(3);
    expect((await hub.invoke('settings.get', {})).changesRetentionDays).toBe(3);
  });
});
