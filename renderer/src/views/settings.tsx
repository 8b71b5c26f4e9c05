/** Hub settings and facts about this hub. */
import { useEffect, useState } from 'react';
import { AGENT_HISTORY_MAX_DAYS, CHANGES_RETENTION_MAX_DAYS, LOG_LEVELS, MIRROR_MODES, TRASH_RETENTION_MAX_DAYS, type LogLevel, type MirrorModesSetting, type Settings } from '../../../main/contract';
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

  useEffect(() => {
    api().invoke('settings.get', {}).then(setSettings, setError);
    // Changed elsewhere (another page, the desktop window): shown here at once.
    return api().subscribe('settings', setSettings);
  }, []);

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
        <form className="stack narrow" onSubmit={(e) => e.preventDefault()}>
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
          <DaysField id="trash-retention" label="Trash retention (days)" value={settings.trashRetentionDays} max={TRASH_RETENTION_MAX_DAYS}
            save={(days) => void change({ trashRetentionDays: days })}
            help="A purge moves mirrors into the trash; they can be restored for this many days, then they are deleted (checked every hour). Press Enter or leave the field to save; a shorter window applies at once." />
          <DaysField id="changes-retention" label="Recent changes kept (days)" value={settings.changesRetentionDays} max={CHANGES_RETENTION_MAX_DAYS}
            save={(days) => void change({ changesRetentionDays: days })}
            help="The Changes view and each file's timeline show what the hub recorded this many days back (and at most the newest million changes). Older ones are deleted every ten minutes." />
          <DaysField id="agent-history" label="Agent runs kept (days)" value={settings.agentHistoryDays} max={AGENT_HISTORY_MAX_DAYS}
            save={(days) => void change({ agentHistoryDays: days })}
            help="Finished agent instances, with their output, are deleted after this many days (checked every hour); pending and running ones stay. Only a template's newest 100 runs keep their output." />
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

/**
 * A number of days, saved on Enter or when the field is left, never per keystroke (a "1" on
 * the way to "14" would empty the trash at once); a value out of bounds is said, not saved.
 */
function DaysField({ id, label, value, max, help, save }: { id: string; label: string; value: number; max: number; help: string; save(days: number): void }) {
  const [typed, setTyped] = useState(String(value));
  useEffect(() => setTyped(String(value)), [value]);
  const days = Number(typed);
  const valid = Number.isInteger(days) && days >= 1 && days <= max;
  const commit = () => {
    if (valid && days !== value) save(days);
  };
  return (
    <>
      <label htmlFor={id}>{label}</label>
      {/* Enter saves here: a form with several number fields and no submit button is not submitted by Enter. */}
      <input id={id} type="number" min={1} max={max} step={1} aria-describedby={`${id}-help`} value={typed}
        onChange={(e) => setTyped(e.target.value)} onBlur={commit}
        onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); commit(); } }} />
      {valid ? null : <p className="error-note" role="alert">A whole number of days, 1 to {max}.</p>}
      <p id={`${id}-help`} className="sub">{help}</p>
    </>
  );
}
