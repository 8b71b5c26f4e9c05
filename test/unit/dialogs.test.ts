/**
 * The dialogs' decisions (renderer/src/dialogs.ts): Escape on the join string (shown once)
 * asks before closing; the start-agent dialog starts afresh from the template's node and
 * config, never from the last run.
 */
import { describe, expect, it } from 'vitest';
import { joinCommand, joinEscape, startForm } from '../../renderer/src/dialogs';

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
