// Hulp in de buurt. For now: find your gemeente (GET /api/gemeenten?q=...).
import { h } from '../dom.js';
import { get } from '../api.js';

export function render(main) {
  const input = h('input', {
    id: 'gemeente-q', type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'gemeente-hint', enterkeyhint: 'search',
  });
  const status = h('p', { class: 'status', role: 'status' });
  const list = h('ul', { class: 'results', 'aria-label': 'Gevonden gemeenten' });
  list.hidden = true;
  let timer = 0;
  let ctrl = null;

  async function search() {
    clearTimeout(timer);
    const q = input.value.trim();
    if (ctrl) ctrl.abort();
    if (q.length < 2) {
      list.hidden = true;
      list.replaceChildren();
      status.textContent = '';
      status.classList.remove('error');
      return;
    }
    ctrl = new AbortController();
    const mine = ctrl;
    try {
      const rows = await get('/api/gemeenten', { params: { q }, signal: mine.signal });
      if (mine !== ctrl) return;
      const found = Array.isArray(rows) ? rows : [];
      list.replaceChildren(...found.map((g) => h('li', {}, g.weergavenaam || g.naam)));
      list.hidden = found.length === 0;
      status.classList.remove('error');
      status.textContent = found.length === 0
        ? `Geen gemeente gevonden voor "${q}". Kijk of je het goed hebt geschreven.`
        : found.length === 1 ? '1 gemeente gevonden.' : `${found.length} gemeenten gevonden.`;
    } catch (err) {
      if (err.name === 'AbortError' || mine !== ctrl) return;
      list.hidden = true;
      status.classList.add('error');
      status.textContent = err.status === 0
        ? 'Zoeken lukt nu niet. Heb je internet? Probeer het later nog een keer.'
        : err.message;
    }
  }

  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 300); });
  const form = h('form', { role: 'search', 'aria-label': 'Gemeente zoeken', onsubmit: (e) => { e.preventDefault(); search(); } },
    h('label', { for: 'gemeente-q' }, 'In welke gemeente woon je?'),
    h('span', { class: 'hint', id: 'gemeente-hint' }, 'Typ een deel van de naam. Bijvoorbeeld: Utrecht.'),
    h('div', { class: 'field-row' }, input, h('button', { class: 'btn', type: 'submit' }, 'Zoek')),
  );

  main.append(
    h('h1', {}, 'Hulp in de buurt'),
    h('p', { class: 'lead' }, 'Hier zie je straks waar je hulp kunt krijgen in jouw gemeente.'),
    form, status, list,
  );

  return () => { clearTimeout(timer); if (ctrl) ctrl.abort(); };
}
