/**
 * The dialogs' decisions (renderer/src/dialogs.ts): Escape on the join string (shown once)
 * asks before closing; the start-agent dialog starts afresh from the template's node and
 * config, never from the last run.
 */
import { describe, expect, it } from 'vitest';
import { joinCommand, joinEscape, startForm, templateFields, templateForm } from '../../renderer/src/dialogs';
import { hashOf, viewFromHash } from '../../renderer/src/store';

describe('the add-node dialog', () => {
  it('closes the name form on Escape, but asks first while an uncopied join string shows', () => {
    expect(joinEscape({ showingJoin: false, copied: false, asking: false })).toBe('close');
    expect(joinEscape({ showingJoin: true, copied: false, asking: false })).toBe('ask');
    expect(joinEscape({ showingJoin: true, copied: false, asking: true })).toBe('close');
    expect(joinEscape({ showingJoin: true, copied: true, asking: false })).toBe('close');
  });

  it('gives the command with the join string in the environment, not the arguments', () => {
    expect(joinCommand('cortex1.abc')).toBe("CORTEX_JOIN='cortex1.abc' cortex-node --workspace DIR");
  });
});

describe('the start-agent dialog', () => {
  const t = (over: Partial<{ id: string; nodeId: string | null; defaultConfig: Record<string, unknown> }> = {}) => ({ id: 't1', nodeId: null, defaultConfig: {}, ...over });

  it('takes the template\'s node when it is active, else the first active node', () => {
    expect(startForm(t({ nodeId: 'n2' }), undefined, ['n1', 'n2'])).toMatchObject({ templateId: 't1', nodeId: 'n2' });
    expect(startForm(t({ nodeId: 'gone' }), undefined, ['n1', 'n2']).nodeId).toBe('n1');
    expect(startForm(t(), undefined, ['n1']).nodeId).toBe('n1');
    expect(startForm(t(), undefined, []).nodeId).toBe('');
  });

  it('keeps the node of the detail view it was opened from', () => {
    expect(startForm(t({ nodeId: 'n2' }), 'n1', ['n1', 'n2']).nodeId).toBe('n1');
  });

  it('shows the template\'s default config, and no session: nothing of a previous run', () => {
    expect(startForm(t({ defaultConfig: { depth: 2 } }), undefined, ['n1'])).toEqual({ templateId: 't1', nodeId: 'n1', session: '', config: '{\n  "depth": 2\n}' });
    expect(startForm(t(), undefined, ['n1']).config).toBe('');
    expect(startForm(undefined, undefined, ['n1'])).toEqual({ templateId: '', nodeId: 'n1', session: '', config: '' });
  });
});

describe('the template dialog', () => {
  it('starts empty for a new template, and from the template for an edit', () => {
    expect(templateForm()).toEqual({ name: '', command: '', nodeId: '', cron: '', overlap: 'skip', config: '', webhook: 'none' });
    expect(templateForm({ name: 'lint', command: 'npm run lint', nodeId: 'n1', cron: '*/5 * * * *', overlap: 'queue', defaultConfig: { fix: true }, hasWebhook: true }))
      .toEqual({ name: 'lint', command: 'npm run lint', nodeId: 'n1', cron: '*/5 * * * *', overlap: 'queue', config: '{\n  "fix": true\n}', webhook: 'keep' });
  });

  it('says what is wrong before asking the hub, and sends empty node and cron as none', () => {
    const ok = { name: ' lint ', command: 'npm run lint', nodeId: '', cron: ' ', overlap: 'skip' as const, config: '', webhook: 'none' as const };
    expect(templateFields(ok)).toEqual({ name: 'lint', command: 'npm run lint', nodeId: null, cron: null, overlap: 'skip', defaultConfig: {}, webhook: 'none' });
    expect(templateFields({ ...ok, name: '  ' })).toEqual({ problem: 'A template needs a name.' });
    expect(templateFields({ ...ok, command: ' ' })).toEqual({ problem: 'A template needs a command.' });
    expect(templateFields({ ...ok, config: '{"a":' })).toMatchObject({ problem: expect.stringMatching(/^Default config is not JSON: /) });
    expect(templateFields({ ...ok, config: '[1]' })).toEqual({ problem: 'Default config must be a JSON object, like {"depth": 2}.' });
    expect(templateFields({ ...ok, cron: '* * * * *' })).toEqual({ problem: 'A cron schedule runs on a node: choose one.' });
    expect(templateFields({ ...ok, cron: '* * * * *', nodeId: 'n1', config: '{"a":1}' })).toMatchObject({ cron: '* * * * *', nodeId: 'n1', defaultConfig: { a: 1 } });
  });
});

describe('agent pages in the address', () => {
  it('links a template and an instance by URL, and reads them back', () => {
    for (const v of [{ name: 'agent-template', id: 'abc' }, { name: 'agent-instance', id: '0001x' }, { name: 'agents' }, { name: 'node', id: 'n/1' }] as const) {
      expect(viewFromHash(hashOf(v))).toEqual(v);
    }
    expect(hashOf({ name: 'agent-instance', id: 'i1' })).toBe('#/agents/instances/i1');
    expect(hashOf({ name: 'agent-template', id: 't1' })).toBe('#/agents/templates/t1');
    expect(viewFromHash('#/agents/instances/')).toEqual({ name: 'agents' });
  });
});
