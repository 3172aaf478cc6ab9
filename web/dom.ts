/** A small `h()` for building DOM nodes: the page's only rendering helper (no framework). */
type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | undefined | null | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
      else if (name === 'class') el.className = String(value);
      else if (name === 'text') el.textContent = String(value);
      // Through the CSSOM, which the page's content security policy allows (a style attribute it does not).
      else if (name === 'style') el.style.cssText = String(value);
      else el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c === null || c === undefined || c === false) continue;
    else el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** Replaces the children of the element with id `id`. */
export function fill(id: string, ...children: (Child | Child[])[]): void {
  const el = document.getElementById(id);
  if (!el) return;
  el.replaceChildren();
  append(el, children);
}

/** `'12:03:04'` for a time in ms or an RFC 3339 string; `'?'` when unreadable. */
export function clock(t: number | string | undefined): string {
  if (t === undefined || t === '') return '?';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleTimeString([], { hour12: false });
}

export function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
}
