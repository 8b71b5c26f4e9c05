/**
 * The Agents tab (the templates, then every instance) and agent templates: the overview (one line per template with its last run and how many are
 * active, so a cron firing every minute is one line, not a flood), and a template's own page
 * (`#/agents/templates/<id>`): its command, cron, node, overlap, webhook address and default
 * config, Edit, Delete, Start, and its instances, paged.
 */
import { useEffect, useState } from 'react';
import type { AgentTemplateView } from '../../../main/contract';
import { ago, dateTime, duration, inTime } from '../../../main/util/format';
import { api } from '../api';
import { CopyButton, Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';
import { AgentsView, StartDialog } from './agents';
import { DeleteTemplateDialog, TemplateDialog, webhookUrl } from './template-dialog';

/** The Agents tab: its templates, then every instance. */
export function AgentsTab() {
  return (
    <div className="stack">
      <h1>Agents</h1>
      <TemplatesOverview />
      <AgentsView />
    </div>
  );
}

export function TemplatesOverview() {
  const nodes = useUi((s) => s.nodes);
  const go = useUi((s) => s.go);
  const [creating, setCreating] = useState(false);
  const overview = useLoad(() => api().invoke('agents.overview', {}), []);
  // Templates made or changed anywhere (the CLI too), and instances starting or ending, show at once.
  useEffect(() => api().subscribe('agent.template', () => overview.reload()), [overview.reload]);
  useEffect(() => {
    // At most a reload a second however many instances change (a burst of triggers).
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = api().subscribe('agent', () => { timer ??= setTimeout(() => { timer = null; overview.reload(); }, 1000); });
    return () => { off(); if (timer) clearTimeout(timer); };
  }, [overview.reload]);
  const rows = overview.data ?? [];
  return (
    <section aria-labelledby="templates-title">
      <div className="toolbar">
        <h2 id="templates-title">Templates</h2>
        <span className="sub">{rows.length} template{rows.length === 1 ? '' : 's'}</span>
        <span className="spacer" />
        <button type="button" className="primary" onClick={() => setCreating(true)}>New template…</button>
      </div>
      <ErrorNote error={overview.error} />
      {overview.data === null && !overview.error ? <Loading what="templates" /> : rows.length === 0 ? <Empty>No agent templates yet. A template says what a node runs; create one to start agents from it.</Empty> : (
        <table className="templates">
          <colgroup><col className="col-name" /><col /><col className="col-trigger" /><col className="col-node" /><col className="col-active" /><col className="col-last" /></colgroup>
          <thead><tr><th>Template</th><th>Command</th><th>Triggers</th><th>Node</th><th>Active</th><th>Last run</th></tr></thead>
          <tbody>
            {rows.map(({ template: t, last, active }) => (
              <tr key={t.id} data-template={t.name}>
                <td><a href={`#/agents/templates/${encodeURIComponent(t.id)}`} onClick={(e) => { e.preventDefault(); go({ name: 'agent-template', id: t.id }); }}>{t.name}</a></td>
                <td className="mono clip" title={t.command}>{t.command}</td>
                <td>{[t.cron ? `cron ${t.cron}${t.nextRunAt !== null ? ` (next ${inTime(t.nextRunAt)})` : ''}` : null, t.hasWebhook ? 'webhook' : null].filter(Boolean).join(', ') || 'manual'}</td>
                <td>{t.nodeId ? nodes[t.nodeId]?.name ?? t.nodeId : '–'}</td>
                <td>{active}</td>
                <td>{last ? (
                  <a href={`#/agents/instances/${encodeURIComponent(last.id)}`} onClick={(e) => { e.preventDefault(); go({ name: 'agent-instance', id: last.id }); }}>
                    <span className={`badge agent-${last.state}`}>{last.state}</span> {ago(last.createdAt)}{last.durationMs !== null ? `, ${duration(last.durationMs)}` : ''}
                  </a>
                ) : 'never'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <TemplateDialog open={creating} onClose={() => setCreating(false)} onSaved={(r) => { overview.reload(); if (!r.webhookToken) go({ name: 'agent-template', id: r.template.id }); }} />
    </section>
  );
}

export function TemplatePage({ id }: { id: string }) {
  const nodes = useUi((s) => s.nodes);
  const hubUi = useUi((s) => s.hub?.ui ?? null);
  const go = useUi((s) => s.go);
  const all = useLoad(() => api().invoke('agents.templates', { deleted: true }), [id]);
  useEffect(() => api().subscribe('agent.template', (t) => { if (t.id === id) all.reload(); }), [all.reload, id]);
  const [dialog, setDialog] = useState<'edit' | 'delete' | 'start' | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const t: AgentTemplateView | undefined = all.data?.find((x) => x.id === id);
  if (all.error) return <ErrorNote error={all.error} />;
  if (!all.data) return <Loading what="the template" />;
  if (!t) return <Empty>No agent template {id}. <a href="#/agents" onClick={(e) => { e.preventDefault(); go({ name: 'agents' }); }}>All agents</a></Empty>;
  const deleted = t.deletedAt !== null;
  return (
    <section aria-labelledby="template-title" className="stack template-page">
      <p className="sub"><a href="#/agents" onClick={(e) => { e.preventDefault(); go({ name: 'agents' }); }}>Agents</a> › template</p>
      <div className="toolbar">
        <h1 id="template-title">{t.name}</h1>
        {deleted ? <span className="badge badge-retired">deleted</span> : null}
        <span className="spacer" />
        {deleted ? null : (<>
          <button type="button" className="primary" onClick={() => setDialog('start')}>Start…</button>
          <button type="button" onClick={() => setDialog('edit')}>Edit…</button>
          <button type="button" className="danger" onClick={() => setDialog('delete')}>Delete…</button>
        </>)}
      </div>
      {done ? <p className="result" role="status">{done}</p> : null}
      <dl className="facts template-facts">
        <dt>Id</dt><dd className="mono">{t.id}</dd>
        <dt>Command</dt><dd><pre className="command">{t.command}</pre></dd>
        <dt>Cron</dt><dd><span className="mono">{t.cron ?? (deleted ? '– (ended with the delete)' : '– (none)')}</span>
          {t.nextRunAt !== null ? <span className="sub" data-fact="next-run"> · next run {dateTime(t.nextRunAt)} ({inTime(t.nextRunAt)}, by the hub's clock)</span> : null}</dd>
        <dt>Node</dt><dd>{t.nodeId ? <a href={`#/node/${encodeURIComponent(t.nodeId)}`} onClick={(e) => { e.preventDefault(); go({ name: 'node', id: t.nodeId! }); }}>{nodes[t.nodeId]?.name ?? t.nodeId}</a> : '– (chosen at each start)'}</dd>
        <dt>Overlap</dt><dd>{t.overlap === 'skip' ? 'a trigger while one still runs is skipped' : 'a trigger while one still runs waits its turn'}</dd>
        <dt>Webhook</dt><dd>{t.hasWebhook ? (
          <span className="webhook"><code id="webhook-url">POST {webhookUrl(t.id, hubUi)}</code> <CopyButton text={webhookUrl(t.id, hubUi)} label="Copy URL" fallbackId="webhook-url" />
            <span className="sub"> with <code>Authorization: Bearer TOKEN</code> (the token was shown once; Edit makes a new one)</span></span>
        ) : '– (none)'}</dd>
        <dt>Default config</dt><dd className="mono small">{JSON.stringify(t.defaultConfig)}</dd>
        <dt>Created</dt><dd>{dateTime(t.createdAt)}</dd>
        <dt>{deleted ? 'Deleted' : 'Changed'}</dt><dd>{dateTime(deleted ? t.deletedAt! : t.updatedAt)}</dd>
      </dl>
      <AgentsView key={t.id} templateId={t.id} />
      {deleted ? null : (<>
        <TemplateDialog open={dialog === 'edit'} template={t} onClose={() => setDialog(null)} onSaved={(r) => { all.reload(); setDone(`Saved ${r.template.name}.`); }} />
        <DeleteTemplateDialog open={dialog === 'delete'} template={t} onClose={() => setDialog(null)}
          onDeleted={(r) => { all.reload(); setDone(`Deleted ${r.template.name}; its instances are kept${r.stopped ? `, ${r.stopped} not started stopped` : ''}${r.running ? `, ${r.running} running finish` : ''}.`); }} />
        <StartDialog open={dialog === 'start'} templates={[t]} onClose={() => setDialog(null)} onStarted={(i) => go({ name: 'agent-instance', id: i.id })} />
      </>)}
    </section>
  );
}
