// Tiny DOM helper: h('p', {class: 'lead'}, 'tekst', otherNode). No innerHTML, so no injection.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

// A short message for the next screen ("Je account is klaar."), shown once.
let flashText = '';
export function setFlash(text) { flashText = text; }
export function takeFlash() { const t = flashText; flashText = ''; return t; }

/** parent.append(...) that skips null/false, like h() does. */
export function add(parent, ...children) {
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) parent.append(c);
  return parent;
}
