/** Hub settings and facts about this hub. */
import { useEffect, useState } from 'react';
import { CHANGES_RETENTION_MAX_DAYS, LOG_LEVELS, MIRROR_MODES, TRASH_RETENTION_MAX_DAYS, type LogLevel, type MirrorModesSetting, type Settings } from '../../../main/contract';
import { bytes } from '../../../main/util/format';
import { api } from '../api';
import { ErrorNote, Loading } from '../components/bits';
import { useUi } from '../store';
import { NotifySettings } from './notify-settings';

export function SettingsView() {
  const hub = useUi((s) => s.hub);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  /** The retention field as typed; saved on Enter or leaving the field (never per keystroke: a "1" on the way to "14" would empty the trash). */
  const [retention, setRetention] = useState('');
  /** The change log's retention field, saved the same way. */
  const [changesKept, setChangesKept] = useState('');

  useEffect(() => {
    api().invoke('settings.get', {}).then(setSettings, setError);
    // Changed elsewhere (another page, the desktop window): shown here at once.
    return api().subscribe('settings', setSettings);
  }, []);
  useEffect(() => {
    if (settings) setRetention(String(settings.trashRetentionDays));
  }, [settings?.trashRetentionDays]);
  useEffect(() => {
    if (settings) setChangesKept(String(settings.changesRetentionDays));
  }, [settings?.changesRetentionDays]);
  const changesDays = Number(changesKept);
  const changesValid = Number.isInteger(changesDays) && changesDays >= 1 && changesDays <= CHANGES_RETENTION_MAX_DAYS;
  const saveChangesKept = () => {
    if (settings && changesValid && changesDays !== settings.changesRetentionDays) void change({ changesRetentionDays: changesDays });
  };
  const retentionDays = Number(retention);
  const retentionValid = Number.isInteger(retentionDays) && retentionDays >= 1 && retentionDays <= TRASH_RETENTION_MAX_DAYS;
  const saveRetention = () => {
    if (settings && retentionValid && retentionDays !== settings.trashRetentionDays) void change({ trashRetentionDays: retentionDays });
  };

  const change = async (patch: Partial<Settings>) => {
    setSaved(false);
    try {
      const next = await api().invoke('settings.set', patch);
      setSettings(next);
      // The page's notices follow the switches at once.
      useUi.getState().setSettings(next);
      setError(null);
      setSaved(true);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="settings-title">
      <div className="toolbar"><h1 id="settings-title">Settings</h1></div>
      <ErrorNote error={error} />
      {!settings ? <Loading what="settings" /> : (
        <form className="stack narrow" onSubmit={(e) => { e.preventDefault(); saveRetention(); saveChangesKept(); }}>
          <label htmlFor="log-level">Log file level</label>
          <select id="log-level" value={settings.logLevel} onChange={(e) => void change({ logLevel: e.target.value as LogLevel })}>
            {LOG_LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
          <label htmlFor="mirror-modes">Modes in mirrors</label>
          <select id="mirror-modes" aria-describedby="mirror-modes-help" value={settings.mirrorModes} onChange={(e) => void change({ mirrorModes: e.target.value as MirrorModesSetting })}>
            {MIRROR_MODES.map((m) => <option key={m} value={m}>{m === 'private' ? 'private: no world-write on the hub' : 'exact: as on the node'}</option>)}
          </select>
          <p id="mirror-modes-help" className="sub">
            Private strips world-write from files and folders written into mirrors, so other users of this machine cannot
            write into a workspace; the node keeps its own modes either way. Applies to new writes.
          </p>
          <label htmlFor="trash-retention">Trash retention (days)</label>
          <input id="trash-retention" type="number" min={1} max={TRASH_RETENTION_MAX_DAYS} step={1} aria-describedby="trash-retention-help" value={retention}
            onChange={(e) => setRetention(e.target.value)} onBlur={saveRetention} />
          {retentionValid ? null : <p className="error-note" role="alert">A whole number of days, 1 to {TRASH_RETENTION_MAX_DAYS}.</p>}
          <p id="trash-retention-help" className="sub">
            A purge moves mirrors into the trash; they can be restored for this many days, then they are deleted (checked every hour). Press Enter or leave the field to save; a shorter window applies at once.
          </p>
          <label htmlFor="changes-retention">Recent changes kept (days)</label>
          <input id="changes-retention" type="number" min={1} max={CHANGES_RETENTION_MAX_DAYS} step={1} aria-describedby="changes-retention-help" value={changesKept}
            onChange={(e) => setChangesKept(e.target.value)} onBlur={saveChangesKept} />
          {changesValid ? null : <p className="error-note" role="alert">A whole number of days, 1 to {CHANGES_RETENTION_MAX_DAYS}.</p>}
          <p id="changes-retention-help" className="sub">
            The Changes view and each file's timeline show what the hub recorded this many days back (and at most the newest million changes). Older ones are deleted every ten minutes.
          </p>
          {/* Two number fields block a form's implicit submission (Enter) unless it has a submit button: this one, hidden. */}
          <button type="submit" hidden>Save</button>
        </form>
      )}
      {settings ? <NotifySettings settings={settings} change={change} /> : null}
      <p className="sub" role="status">{saved ? 'Saved.' : ''}</p>
      <h2>This hub</h2>
      {hub ? (
        <dl className="facts">
          <dt>Version</dt><dd>{hub.version}</dd>
          <dt>Node address (gRPC/TLS)</dt><dd className="mono">{hub.grpc ?? 'not listening'}</dd>
          <dt>Certificate fingerprint</dt><dd className="mono small">{hub.fingerprint}</dd>
          <dt>Up for</dt><dd>{Math.round(hub.uptimeMs / 60000)} min</dd>
          <dt>Hashed since start</dt><dd>{hub.filesHashedSinceStart.toLocaleString()} files, {hub.bytesHashedSinceStart.toLocaleString()} bytes</dd>
          <dt>Trash</dt><dd>{bytes(hub.trashBytes)}</dd>
        </dl>
      ) : <Loading what="hub status" />}
    </section>
  );
}
