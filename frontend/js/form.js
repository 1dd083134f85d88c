// Form parts: labelled fields whose error line is linked with aria-describedby and announced
// (role="alert"), and the server's Dutch field messages shown at the right field.
import { h } from './dom.js';

/** A labelled input (or tag: 'textarea'): label, hint, error line, input. Wrapped in [data-field=name] for showErrors. */
export function field({ name, label, hint, type = 'text', value, tag = 'input', ...attrs }) {
  const id = 'f-' + name;
  const input = h(tag, {
    id, name, type: tag === 'input' ? type : null, 'aria-describedby': (hint ? id + '-hint ' : '') + id + '-err', ...attrs,
  });
  if (value) input.value = value;
  const wrap = h('div', { class: 'field', 'data-field': name },
    h('label', { for: id }, label),
    hint && h('span', { class: 'hint', id: id + '-hint' }, hint),
    h('p', { class: 'field-error', id: id + '-err', role: 'alert' }),
    input);
  return { wrap, input };
}

/** A group of radio buttons: [[value, label], ...]. */
export function radios({ name, legend, hint, options, value }) {
  const id = 'f-' + name;
  return h('fieldset', { class: 'field choices', 'data-field': name, 'aria-describedby': (hint ? id + '-hint ' : '') + id + '-err' },
    h('legend', {}, legend),
    hint && h('span', { class: 'hint', id: id + '-hint' }, hint),
    h('p', { class: 'field-error', id: id + '-err', role: 'alert' }),
    options.map(([v, text], i) => h('div', { class: 'choice' },
      h('input', { type: 'radio', name, id: `${id}-${i}`, value: v, checked: v === value }),
      h('label', { for: `${id}-${i}` }, text))));
}

/** The line for messages that belong to no single field. */
export const formError = () => h('p', { class: 'form-error', role: 'alert' });

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Show an ApiError (or {fields, message}) at its fields; focus the first field with a problem. */
export function showErrors(form, err) {
  clearErrors(form);
  let first = null;
  const rest = [];
  for (const [key, msg] of Object.entries(err.fields || {})) {
    const box = form.querySelector(`[data-field="${key.replace(/^profile\./, '')}"]`);
    if (!box) { rest.push(msg); continue; }
    box.querySelector('.field-error').textContent = msg;
    for (const el of box.querySelectorAll('input:not([type=radio]):not([type=checkbox]), textarea')) el.setAttribute('aria-invalid', 'true');
    first = first || box.querySelector('input, textarea');
  }
  if (!first || rest.length) form.querySelector('.form-error').textContent = rest.join(' ') || err.message;
  if (first) first.focus();
}

/** Run an async submit handler once at a time; the form says it is busy meanwhile. */
export function onSubmit(form, fn) {
  let busy = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    busy = true;
    form.setAttribute('aria-busy', 'true');
    try { await fn(); } finally { busy = false; form.removeAttribute('aria-busy'); }
  });
}
