/**
 * The search box in the header: paths in every mirror, by a piece of their name. `/` anywhere
 * (outside a text field or a dialog) focuses it, Enter searches (the results view,
 * views/search.tsx), ArrowDown goes to the first result, Escape leaves the box.
 */
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useUi } from '../store';

/** Where typing belongs to the page's own controls: `/` is not ours there. */
function typingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.closest('dialog[open]') !== null;
}

/** The result links of the results view, in order (arrow keys move between them). */
export function resultLinks(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>('a.hit-path')];
}

export function SearchBox() {
  const current = useUi((s) => (s.view.name === 'search' ? s.view.query : null));
  const go = useUi((s) => s.go);
  const [text, setText] = useState(current ?? '');
  const input = useRef<HTMLInputElement>(null);

  // An address typed or followed (#/search/...) shows its query in the box.
  useEffect(() => {
    if (current !== null) setText(current);
  }, [current]);

  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || typingTarget(e.target) || document.querySelector('dialog[open]')) return;
      e.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const query = text.trim();
    if (query) go({ name: 'search', query });
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown') {
      const first = resultLinks()[0];
      if (first) {
        e.preventDefault();
        first.focus();
      }
    } else if (e.key === 'Escape') {
      input.current?.blur();
    }
  };

  return (
    <form role="search" className="search-box" onSubmit={submit}>
      <label htmlFor="path-search" className="sr-only">Search paths in every mirror</label>
      <input id="path-search" ref={input} type="search" value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown}
        placeholder="Search paths  ( / )" autoComplete="off" spellCheck={false} aria-keyshortcuts="/" maxLength={1024} />
    </form>
  );
}
