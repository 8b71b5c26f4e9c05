/** Add node: a name in, the join string out (shown once: the hub keeps only the token's hash). */
import { useState, type FormEvent } from 'react';
import { nodeNameProblem, normalizeNodeName, type OpOutput } from '../../../main/contract';
import { api } from '../api';
import { Dialog, ErrorNote } from '../components/bits';

export function AddNodeDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState<OpOutput<'nodes.add'> | null>(null);
  const [copied, setCopied] = useState(false);

  // The hub checks the name again (and that no active node has it); this says why early.
  const problem = name.trim() ? nodeNameProblem(normalizeNodeName(name)) : null;

  const close = () => {
    setName('');
    setError(null);
    setAdded(null);
    setCopied(false);
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

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(added!.join);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so Ctrl+C / Cmd+C copies it.
      (document.getElementById('join-string') as HTMLTextAreaElement | null)?.select();
    }
  };

  return (
    <Dialog title={added ? `Node “${added.node.name}” added` : 'Add node'} open={open} onClose={close}>
      {added ? (
        <div className="stack">
          <p>Run this on the node. The join string holds the node's secret token and is <strong>shown only once</strong>.</p>
          <label htmlFor="join-string">Join string</label>
          <textarea id="join-string" className="mono" readOnly rows={3} value={added.join} onFocus={(e) => e.currentTarget.select()} />
          <label htmlFor="join-command">Command</label>
          <textarea id="join-command" className="mono" readOnly rows={2} value={`CORTEX_JOIN='${added.join}' cortex-node --workspace DIR`} onFocus={(e) => e.currentTarget.select()} />
          <p className="sub">The environment keeps the token out of the process list (<code>--join-file FILE</code> works too). After its first connection the node remembers it: later runs need only <code>--workspace</code>.</p>
          <div className="actions">
            <button type="button" onClick={() => void copy()}>{copied ? 'Copied' : 'Copy join string'}</button>
            <button type="button" className="primary" onClick={close}>Done</button>
          </div>
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
