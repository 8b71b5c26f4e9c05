/**
 * One agent instance's page (`#/agents/instances/<id>`, linkable): its state live, template,
 * node, session, trigger, the command it ran, its times and duration, exit, error and config,
 * the kept tail of its stdout and stderr (so far while it runs, again when it ends), Stop while it is pending
 * or running, and Re-run (a new instance like it, whose page opens).
 */
import { useEffect, useState } from 'react';
import { OUTPUT_DROPPED_REASON, type AgentInstanceView, type AgentOutputView } from '../../../main/contract';
import { bytes, dateTime, duration } from '../../../main/util/format';
import { api } from '../api';
import { Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';

function OutputPane({ name, text, total }: { name: string; text: string; total: number }) {
  const kept = new TextEncoder().encode(text).length;
  return (
    <section className="output" aria-label={name}>
      <h3>{name} <span className="sub">{total === 0 ? 'nothing' : kept < total ? `the last ${bytes(kept)} of ${bytes(total)}` : bytes(total)}</span></h3>
      {total === 0 ? null : <pre tabIndex={0} data-stream={name}>{text}</pre>}
    </section>
  );
}

export function InstancePage({ id }: { id: string }) {
  const nodes = useUi((s) => s.nodes);
  const go = useUi((s) => s.go);
  const loaded = useLoad(() => api().invoke('agents.get', { id }), [id]);
  const [live, setLive] = useState<AgentInstanceView | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => { setLive(null); setError(null); }, [id]);
  useEffect(() => api().subscribe('agent', (i) => { if (i.id === id) setLive(i); }), [id]);
  const i = live ?? loaded.data;
  const final = i !== null && i.state !== 'pending' && i.state !== 'running';
  // While it runs, its output so far (the node sends it every few seconds); once more when it ends.
  const output = useLoad<AgentOutputView>(() => api().invoke('agents.output', { id }), [id, final], i !== null && !final ? 3000 : undefined);
  const templates = useLoad(() => api().invoke('agents.templates', { deleted: true }), []);
  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!i) return <Loading what={`agent instance ${id}`} />;
  const template = templates.data?.find((t) => t.id === i.templateId);
  const act = async (what: 'stop' | 'rerun') => {
    try {
      setError(null);
      if (what === 'stop') setLive(await api().invoke('agents.stop', { id: i.id }));
      else go({ name: 'agent-instance', id: (await api().invoke('agents.rerun', { id: i.id })).id });
    } catch (e) {
      setError(e);
    }
  };
  const link = (view: Parameters<typeof go>[0], href: string, text: string) => <a href={href} onClick={(e) => { e.preventDefault(); go(view); }}>{text}</a>;
  return (
    <section aria-labelledby="instance-title" className="stack instance-page" data-agent-id={i.id} data-state={i.state}>
      <p className="sub">{link({ name: 'agents' }, '#/agents', 'Agents')} › {link({ name: 'agent-template', id: i.templateId }, `#/agents/templates/${encodeURIComponent(i.templateId)}`, template ? `${template.name}${template.deletedAt !== null ? ' (deleted)' : ''}` : i.templateId)} › instance</p>
      <div className="toolbar">
        <h1 id="instance-title">Agent <span className="mono">{i.id.slice(-12)}</span></h1>
        <span className={`badge agent-${i.state}`} data-testid="instance-state">{i.state}</span>
        <span className="spacer" />
        {final ? null : <button type="button" className="danger" onClick={() => void act('stop')}>Stop</button>}
        <button type="button" onClick={() => void act('rerun')} disabled={!template || template.deletedAt !== null}
          title={template?.deletedAt != null ? 'Its template was deleted' : 'A new instance: same template, node, session and config'}>Re-run</button>
      </div>
      <ErrorNote error={error} />
      <dl className="facts agent-facts">
        <dt>Id</dt><dd className="mono">{i.id}</dd>
        <dt>Node</dt><dd>{link({ name: 'node', id: i.nodeId }, `#/node/${encodeURIComponent(i.nodeId)}`, nodes[i.nodeId]?.name ?? i.nodeId)}</dd>
        <dt>Session</dt><dd className="mono">{i.sessionId ?? '–'}</dd>
        <dt>Trigger</dt><dd>{i.trigger}</dd>
        <dt>Command</dt><dd><pre className="command">{i.command}</pre></dd>
        <dt>Created</dt><dd>{dateTime(i.createdAt)}</dd>
        <dt>Started</dt><dd>{i.startedAt ? dateTime(i.startedAt) : '–'}</dd>
        <dt>Finished</dt><dd>{i.finishedAt ? dateTime(i.finishedAt) : '–'}</dd>
        <dt>Duration</dt><dd data-testid="instance-duration">{i.durationMs !== null ? duration(i.durationMs) : i.startedAt ? 'running' : '–'}</dd>
        <dt>Exit</dt><dd>{i.exitCode ?? '–'}{i.exitSignal ? ` (${i.exitSignal})` : ''}</dd>
        {i.error ? (<><dt>Error</dt><dd className="mono">{i.error}</dd></>) : null}
        <dt>Config</dt><dd className="mono small">{JSON.stringify(i.config)}</dd>
      </dl>
      <h2>Output</h2>
      <p className="sub">{final ? 'The last 64 KiB of stdout and of stderr are kept with it.' : 'So far: its node sends the output every few seconds while it runs.'}</p>
      {output.error ? <ErrorNote error={output.error} />
        : !output.data ? <Loading what="its output" />
          : output.data.droppedAt !== null ? <Empty>{`Its output (${bytes(output.data.stdoutBytes)} of stdout, ${bytes(output.data.stderrBytes)} of stderr) was let go on ${dateTime(output.data.droppedAt)}: ${OUTPUT_DROPPED_REASON}.`}</Empty>
          : !output.data.recorded ? <Empty>{!final ? 'No output yet.' : `No output was recorded: ${i.state === 'lost' ? 'it ended without its node’s report' : 'its node is older than the hub, or did not report it'}.`}</Empty>
            : (<div className="outputs" data-final={final ? 'yes' : 'no'}><OutputPane name="stdout" text={output.data.stdout} total={output.data.stdoutBytes} /><OutputPane name="stderr" text={output.data.stderr} total={output.data.stderrBytes} /></div>)}
    </section>
  );
}
