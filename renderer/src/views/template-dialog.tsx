/**
 * The agent template dialogs: create or edit (a form: Enter in a field saves, Escape closes; a
 * new webhook token is shown once, with a copy button, and Escape asks before closing on it
 * unless it was copied), and delete
 * (asks first; Cancel has the focus, so Enter alone never deletes).
 */
import { useEffect, useState } from 'react';
import type { AgentTemplateDeleted, AgentTemplateSaved, AgentTemplateView } from '../../../main/contract';
import { api } from '../api';
import { Dialog, ErrorNote } from '../components/bits';
import { joinEscape, templateFields, templateForm, type TemplateForm } from '../dialogs';
import { useUi } from '../store';

/** Where a template's webhook is called: this hub's API address. */
export function webhookUrl(templateId: string, hubUi: string | null): string {
  // In a browser, the address it reached the hub at; in the desktop app (its own scheme), the hub's UI listener.
  const origin = typeof location !== 'undefined' && /^https?:$/.test(location.protocol) ? location.origin : hubUi ?? '‹the hub’s UI address›';
  return `${origin}/api/hooks/agents/${encodeURIComponent(templateId)}`;
}

export function TemplateDialog({ open, template, onClose, onSaved }: { open: boolean; template?: AgentTemplateView; onClose: () => void; onSaved?: (r: AgentTemplateSaved) => void }) {
  const nodes = useUi((s) => s.nodes);
  const order = useUi((s) => s.order);
  const hubUi = useUi((s) => s.hub?.ui ?? null);
  const active = order.filter((id) => nodes[id] && nodes[id]!.state !== 'retired');
  const [form, setForm] = useState<TemplateForm>(() => templateForm(template));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<AgentTemplateSaved | null>(null);
  const [busy, setBusy] = useState(false);
  /** The token was copied (then closing loses nothing); Escape was pressed while it shows. */
  const [copied, setCopied] = useState(false);
  const [leaving, setLeaving] = useState(false);
  useEffect(() => {
    if (open) {
      setForm(templateForm(template));
      setError(null);
      setSaved(null);
      setCopied(false);
      setLeaving(false);
    }
  }, [open]);
  // The token is shown once: Escape asks first, unless it was copied (as the join string's).
  const onEscape = () => {
    const next = joinEscape({ showingJoin: saved !== null, copied, asking: leaving });
    if (next === 'ask') setLeaving(true);
    return next === 'close';
  };
  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      const el = document.getElementById('webhook-token') as HTMLInputElement | null;
      el?.focus();
      el?.select();
    }
  };
  const field = (k: keyof TemplateForm) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const save = async () => {
    const f = templateFields(form);
    if ('problem' in f) return setError(new Error(f.problem));
    setBusy(true);
    try {
      const { webhook, ...rest } = f;
      const r = template
        ? await api().invoke('agents.updateTemplate', { id: template.id, ...rest, ...(webhook !== 'none' && webhook !== 'keep' ? { webhook } : {}) })
        : await api().invoke('agents.createTemplate', { ...rest, nodeId: rest.nodeId ?? undefined, webhook: webhook === 'new' });
      setError(null);
      onSaved?.(r);
      if (r.webhookToken) setSaved(r);
      else onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const title = template ? `Edit template ${template.name}` : 'New agent template';
  if (saved) {
    return (
      <Dialog title={title} open={open} onClose={onClose} onEscape={onEscape}>
        <div className="stack">
          <p>Saved <strong>{saved.template.name}</strong>. Its webhook token is <strong>shown only once</strong>{template?.hasWebhook ? '; the old one no longer works' : ''}:</p>
          <input id="webhook-token" className="mono" readOnly value={saved.webhookToken!} aria-label="Webhook token" onFocus={(e) => e.currentTarget.select()} />
          <p className="sub mono">curl -X POST -H "Authorization: Bearer $TOKEN" {webhookUrl(saved.template.id, hubUi)}</p>
          {copied ? <p role="status" className="sub">Copied to the clipboard.</p> : null}
          {leaving ? (
            <div className="warn-note stack" role="alertdialog" aria-labelledby="leave-token-q">
              <p id="leave-token-q"><strong>Close without copying?</strong> The token is not shown again (Edit can make a new one). Press Escape again to close.</p>
              <div className="actions">
                <button type="button" autoFocus onClick={() => setLeaving(false)}>Keep it open</button>
                <button type="button" className="danger" onClick={onClose}>Close anyway</button>
              </div>
            </div>
          ) : (
            <div className="actions">
              <button type="button" onClick={() => void copy(saved.webhookToken!)}>Copy token</button>
              <button type="button" className="primary" autoFocus onClick={onClose}>Done</button>
            </div>
          )}
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      <form className="stack template-form" onSubmit={(e) => { e.preventDefault(); void save(); }}>
        <label>Name <input value={form.name} onChange={field('name')} autoFocus maxLength={100} /></label>
        <label>Command (run by the node in its workspace, through the shell) <textarea className="mono" value={form.command} onChange={field('command')} rows={3} /></label>
        <label>Node (where cron and webhook runs go)
          <select value={form.nodeId} onChange={field('nodeId')}>
            <option value="">None</option>
            {active.map((id) => <option key={id} value={id}>{nodes[id]?.name ?? id}</option>)}
            {form.nodeId && !active.includes(form.nodeId) ? <option value={form.nodeId}>{form.nodeId} (not active)</option> : null}
          </select>
        </label>
        <label>Cron schedule (5 fields, local time; empty: none) <input className="mono" value={form.cron} onChange={field('cron')} placeholder="*/30 * * * *" /></label>
        <label>While one still runs, a trigger
          <select value={form.overlap} onChange={field('overlap')}>
            <option value="skip">skips</option>
            <option value="queue">queues (one at a time)</option>
          </select>
        </label>
        <label>Default config (JSON object, optional) <textarea className="mono" value={form.config} onChange={field('config')} rows={3} placeholder='{"depth": 2}' /></label>
        <label>Webhook
          <select value={form.webhook} onChange={field('webhook')}>
            {template?.hasWebhook ? (<>
              <option value="keep">keep its token</option>
              <option value="new">new token (the old one stops working)</option>
              <option value="remove">remove it</option>
            </>) : (<>
              <option value="none">none</option>
              <option value="new">make one (its token is shown once)</option>
            </>)}
          </select>
        </label>
        <ErrorNote error={error} />
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{template ? 'Save' : 'Create'}</button>
        </div>
      </form>
    </Dialog>
  );
}

export function DeleteTemplateDialog({ open, template, onClose, onDeleted }: { open: boolean; template: AgentTemplateView; onClose: () => void; onDeleted: (r: AgentTemplateDeleted) => void }) {
  const [error, setError] = useState<unknown>(null);
  useEffect(() => { if (open) setError(null); }, [open]);
  const remove = async () => {
    try {
      onDeleted(await api().invoke('agents.deleteTemplate', { id: template.id }));
      onClose();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog title={`Delete template ${template.name}?`} open={open} onClose={onClose}>
      <div className="stack">
        <p>It will not run again: no more starts{template.cron ? ', its cron schedule ends' : ''}{template.hasWebhook ? ', its webhook is refused' : ''}. Its instances stay listed, with their output; those not started yet are stopped, those running finish. The name is free again.</p>
        <ErrorNote error={error} />
        <div className="actions">
          <button type="button" autoFocus onClick={onClose}>Cancel</button>
          <button type="button" className="danger" onClick={() => void remove()}>Delete</button>
        </div>
      </div>
    </Dialog>
  );
}
