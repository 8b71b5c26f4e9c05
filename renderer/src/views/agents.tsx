/**
 * Agent instances filtered and paged on the hub (by node, session, template, state; newest
 * first), shown in a virtualized table (only the rows in view are in the DOM, so a million
 * instances scroll like ten), with live state changes; a row opens the instance's own page
 * (agent-instance.tsx); starting a new instance from a template. The Agents tab puts the
 * templates above it (agent-templates.tsx); the node detail and a template's page show it
 * fixed to their node or template.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useRef, useState } from 'react';
import { AGENT_STATES, type AgentInstanceView, type AgentStateName, type AgentTemplateView } from '../../../main/contract';
import { ago, duration } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';
import { startForm, type StartForm } from '../dialogs';

const PAGE = 200;
const ROW_HEIGHT = 34;

export interface AgentFilter {
  nodeId?: string;
  sessionId?: string;
  templateId?: string;
  state?: AgentStateName;
}

function matches(i: AgentInstanceView, f: AgentFilter): boolean {
  return (!f.nodeId || i.nodeId === f.nodeId) && (!f.sessionId || i.sessionId === f.sessionId)
    && (!f.templateId || i.templateId === f.templateId) && (!f.state || i.state === f.state);
}

/** Pages of instances for a filter, loaded as the table scrolls, merged with live changes. */
function useInstances(filter: AgentFilter) {
  const [items, setItems] = useState<AgentInstanceView[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const loading = useRef(false);
  const gen = useRef(0);
  const key = JSON.stringify(filter);

  const load = useCallback(async (cursor: string | null) => {
    if (loading.current) return;
    loading.current = true;
    const mine = gen.current;
    try {
      const page = await api().invoke('agents.list', { ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) });
      if (mine !== gen.current) return;
      setItems((prev) => (cursor ? [...prev, ...page.items] : page.items));
      setNext(page.next);
      setDone(page.next === null);
      setError(null);
    } catch (e) {
      if (mine === gen.current) setError(e);
    } finally {
      // A load of an earlier filter must not clear the flag of the current one's.
      if (mine === gen.current) loading.current = false;
    }
  }, [key]);

  useEffect(() => {
    gen.current++;
    loading.current = false;
    setItems([]);
    setNext(null);
    setDone(false);
    void load(null);
  }, [load]);

  useEffect(() => api().subscribe('agent', (i) => {
    setItems((prev) => {
      const at = prev.findIndex((x) => x.id === i.id);
      if (at >= 0) return matches(i, filter) ? prev.map((x, k) => (k === at ? i : x)) : prev.filter((_, k) => k !== at);
      return matches(i, filter) ? [i, ...prev] : prev;
    });
  }), [key]);

  return { items, more: () => { if (!done && next) void load(next); }, done, error };
}

/** Instances: all of them, or those of one node (`nodeId`) or one template (`templateId`). */
export function AgentsView({ nodeId, templateId }: { nodeId?: string; templateId?: string }) {
  const nodes = useUi((s) => s.nodes);
  const order = useUi((s) => s.order);
  const go = useUi((s) => s.go);
  const [filter, setFilter] = useState<AgentFilter>(nodeId ? { nodeId } : templateId ? { templateId } : {});
  const [sessionText, setSessionText] = useState('');
  const [starting, setStarting] = useState(false);
  // Deleted templates too: their instances still name them.
  const templates = useLoad(() => api().invoke('agents.templates', { deleted: true }), []);
  const live = (templates.data ?? []).filter((t) => t.deletedAt === null);
  // A template made elsewhere (the CLI, another window) shows without a page reload.
  useEffect(() => api().subscribe('agent.template', () => templates.reload()), [templates.reload]);
  const { items, more, done, error } = useInstances(filter);
  const parent = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({ count: items.length, getScrollElement: () => parent.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });
  // A new filter starts at the top of its own list.
  const filterKey = JSON.stringify(filter);
  useEffect(() => {
    if (parent.current) parent.current.scrollTop = 0;
  }, [filterKey]);
  const virtual = rows.getVirtualItems();
  const last = virtual[virtual.length - 1];
  useEffect(() => {
    if (last && last.index >= items.length - 50) more();
  }, [last?.index, items.length]);
  // The session filter is applied when typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setFilter((f) => {
      const { sessionId: _drop, ...rest } = f;
      return sessionText.trim() ? { ...rest, sessionId: sessionText.trim() } : rest;
    }), 300);
    return () => clearTimeout(t);
  }, [sessionText]);
  const templateName = (id: string) => {
    const t = templates.data?.find((x) => x.id === id);
    return t ? `${t.name}${t.deletedAt !== null ? ' (deleted)' : ''}` : id;
  };
  const open = (i: AgentInstanceView) => go({ name: 'agent-instance', id: i.id });
  const embedded = Boolean(nodeId ?? templateId);
  const set = (k: keyof AgentFilter, v: string) => setFilter((f) => {
    const { [k]: _drop, ...rest } = f;
    return v ? { ...rest, [k]: v } : rest;
  });

  return (
    <section aria-labelledby="agents-title" className="agents">
      <div className="toolbar">
        <h2 id="agents-title">{nodeId ? 'Agents' : 'Instances'}</h2>
        <span className="sub" data-testid="agents-count">{items.length.toLocaleString()}{done ? '' : '+'} shown</span>
        <span className="spacer" />
        {nodeId ? null : (
          <select aria-label="Filter by node" value={filter.nodeId ?? ''} onChange={(e) => set('nodeId', e.target.value)}>
            <option value="">All nodes</option>
            {order.map((id) => <option key={id} value={id}>{nodes[id]?.name ?? id}</option>)}
          </select>
        )}
        {templateId ? null : (
          <select aria-label="Filter by template" value={filter.templateId ?? ''} onChange={(e) => set('templateId', e.target.value)}>
            <option value="">All templates</option>
            {(templates.data ?? []).map((t) => <option key={t.id} value={t.id}>{templateName(t.id)}</option>)}
          </select>
        )}
        <select aria-label="Filter by state" value={filter.state ?? ''} onChange={(e) => set('state', e.target.value)}>
          <option value="">All states</option>
          {AGENT_STATES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <input type="search" aria-label="Filter by session" placeholder="Session id" value={sessionText} onChange={(e) => setSessionText(e.target.value)} />
        {templateId ? null : <button type="button" className={embedded ? '' : 'primary'} onClick={() => setStarting(true)} disabled={!live.length}>Start agent…</button>}
      </div>
      <ErrorNote error={error ?? templates.error} />
      {items.length === 0 && done ? <Empty>No agent instances{Object.keys(filter).length ? ' match these filters' : ' yet'}. Start one from a template, or let a cron schedule or webhook create them.</Empty> : (
        <div className="vtable" role="table" aria-label="Agent instances" aria-rowcount={items.length}>
          <div className="vrow vhead" role="row">
            <span role="columnheader">Instance</span><span role="columnheader">Template</span><span role="columnheader">Node</span>
            <span role="columnheader">Session</span><span role="columnheader">State</span><span role="columnheader">Created</span><span role="columnheader">Exit</span>
            <span role="columnheader">Took</span>
          </div>
          <div ref={parent} className="vbody" data-testid="agents-scroll">
            <div style={{ height: rows.getTotalSize(), position: 'relative' }}>
              {virtual.map((v) => {
                const i = items[v.index]!;
                return (
                  <div key={i.id} role="row" aria-rowindex={v.index + 1} className="vrow" data-agent-id={i.id} data-state={i.state}
                    style={{ position: 'absolute', top: 0, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                    tabIndex={0} onClick={() => open(i)} onKeyDown={(e) => { if (e.key === 'Enter') open(i); }}>
                    <span role="cell" className="mono">{i.id.slice(-12)}</span>
                    <span role="cell">{templateName(i.templateId)}</span>
                    <span role="cell">{nodes[i.nodeId]?.name ?? i.nodeId}</span>
                    <span role="cell" className="mono">{i.sessionId ?? '–'}</span>
                    <span role="cell"><span className={`badge agent-${i.state}`}>{i.state}</span></span>
                    <span role="cell" title={new Date(i.createdAt).toLocaleString()}>{ago(i.createdAt)}</span>
                    <span role="cell">{i.exitCode ?? i.exitSignal ?? '–'}</span>
                    <span role="cell">{i.durationMs === null ? '–' : duration(i.durationMs)}</span>
                  </div>
                );
              })}
            </div>
          </div>
          {!done && items.length === 0 ? <Loading what="agent instances" /> : null}
        </div>
      )}
      <StartDialog open={starting} templates={live} nodeId={nodeId} onClose={() => setStarting(false)} />
    </section>
  );
}

/** Starts an instance: of `templates[0]` unless another is picked; on the view's node, else the template's. */
export function StartDialog({ open, templates, nodeId, onClose, onStarted }: { open: boolean; templates: AgentTemplateView[]; nodeId?: string | undefined; onClose: () => void; onStarted?: (i: AgentInstanceView) => void }) {
  const nodes = useUi((s) => s.nodes);
  const order = useUi((s) => s.order);
  const active = order.filter((id) => nodes[id] && nodes[id]!.state !== 'retired');
  const [form, setForm] = useState<StartForm>(() => startForm(templates[0], nodeId, active));
  const [error, setError] = useState<unknown>(null);
  // Every opening starts afresh from the first template's defaults.
  useEffect(() => {
    if (open) {
      setForm(startForm(templates[0], nodeId, active));
      setError(null);
    }
  }, [open]);
  const pickTemplate = (id: string) => setForm(startForm(templates.find((t) => t.id === id), nodeId, active));
  const field = (k: keyof StartForm) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const start = async () => {
    try {
      let parsed: Record<string, unknown> | undefined;
      if (form.config.trim()) {
        parsed = JSON.parse(form.config) as Record<string, unknown>;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('Config must be a JSON object, like {"depth": 2}');
      }
      const i = await api().invoke('agents.start', { templateId: form.templateId || templates[0]!.id, nodeId: form.nodeId || active[0]!, ...(form.session.trim() ? { sessionId: form.session.trim() } : {}), ...(parsed ? { config: parsed } : {}) });
      setError(null);
      onClose();
      onStarted?.(i);
    } catch (e) {
      setError(e instanceof SyntaxError ? new Error(`Config is not JSON: ${e.message}`) : e);
    }
  };
  return (
    <Dialog title="Start an agent" open={open} onClose={onClose}>
      <div className="stack">
        <label>Template <select value={form.templateId} onChange={(e) => pickTemplate(e.target.value)}>{templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}</select></label>
        <label>Node <select value={form.nodeId} onChange={field('nodeId')}>{active.map((id) => <option key={id} value={id}>{nodes[id]?.name ?? id}</option>)}</select></label>
        <label>Session (optional) <input value={form.session} onChange={field('session')} /></label>
        <label>Config (JSON, optional; merged over the defaults) <textarea value={form.config} onChange={field('config')} rows={3} placeholder='{"depth": 2}' /></label>
        <ErrorNote error={error} />
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="button" className="primary" onClick={() => void start()}>Start</button>
        </div>
      </div>
    </Dialog>
  );
}
