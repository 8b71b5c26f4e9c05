/** Add node: a name in, the join string out (shown once: the hub keeps only the token's hash). */
import { useState, type FormEvent } from 'react';
import { nodeNameProblem, normalizeNodeName, type OpOutput } from '../../../main/contract';
import { api } from '../api';
import { Dialog, ErrorNote } from '../components/bits';
import { joinCommand, joinEscape } from '../dialogs';

export function AddNodeDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState<OpOutput<'nodes.add'> | null>(null);
  /** Something of the join string was copied (then closing loses nothing). */
  const [copied, setCopied] = useState(false);
  /** Escape was pressed while the join string shows: asking whether to close. */
  const [leaving, setLeaving] = useState(false);

  // The hub checks the name again (and that no active node has it); this says why early.
  const problem = name.trim() ? nodeNameProblem(normalizeNodeName(name)) : null;

  const close = () => {
    setName('');
    setError(null);
    setAdded(null);
    setCopied(false);
    setLeaving(false);
    onClose();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setAdded(await api().invoke('nodes.add', { name: name.trim() }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const copy = async (text: string, fallbackId: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so Ctrl+C / Cmd+C copies it.
      const el = document.getElementById(fallbackId) as HTMLTextAreaElement | null;
      el?.focus();
      el?.select();
    }
  };

  // The join string is shown once: Escape asks first, unless it was copied (joinEscape).
  const onEscape = () => {
    const next = joinEscape({ showingJoin: added !== null, copied, asking: leaving });
    if (next === 'ask') setLeaving(true);
    return next === 'close';
  };

  return (
    <Dialog title={added ? `Node “${added.node.name}” added` : 'Add node'} open={open} onClose={close} onEscape={onEscape}>
      {added ? (
        <div className="stack">
          <p>Run this on the node. The join string holds the node's secret token and is <strong>shown only once</strong>.</p>
          <label htmlFor="join-string">Join string</label>
          <div className="copy-row">
            <textarea id="join-string" className="mono" readOnly rows={3} value={added.join} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" onClick={() => void copy(added.join, 'join-string')}>Copy join string</button>
          </div>
          <label htmlFor="join-command">Command</label>
          <div className="copy-row">
            <textarea id="join-command" className="mono" readOnly rows={2} value={joinCommand(added.join)} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" onClick={() => void copy(joinCommand(added.join), 'join-command')}>Copy command</button>
          </div>
          <p className="sub">The environment keeps the token out of the process list (<code>--join-file FILE</code> works too). After its first connection the node remembers it: later runs need only <code>--workspace</code>.</p>
          {copied ? <p role="status" className="sub">Copied to the clipboard.</p> : null}
          {leaving ? (
            <div className="warn-note stack" role="alertdialog" aria-labelledby="leave-q">
              <p id="leave-q"><strong>Close without copying?</strong> The join string is not shown again; without it the node cannot join (add the node again to get a new one). Press Escape again to close.</p>
              <div className="actions">
                <button type="button" autoFocus onClick={() => setLeaving(false)}>Keep it open</button>
                <button type="button" className="danger" onClick={close}>Close anyway</button>
              </div>
            </div>
          ) : (
            <div className="actions">
              <button type="button" className="primary" onClick={close}>Done</button>
            </div>
          )}
        </div>
      ) : (
        <form className="stack" onSubmit={(e) => void submit(e)}>
          <label htmlFor="node-name">Name</label>
          <input id="node-name" autoFocus required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. build-box-3" />
          {problem ? <p className="error-note" role="alert">{problem}</p> : null}
          <ErrorNote error={error} />
          <div className="actions">
            <button type="button" onClick={close}>Cancel</button>
            <button type="submit" className="primary" disabled={busy || !name.trim() || problem !== null}>{busy ? 'Adding…' : 'Add node'}</button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
