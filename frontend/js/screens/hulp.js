// Hulp in de buurt: search the sociale kaart of your gemeente (and national help). Without a gemeente you
// pick one first (by name or postcode). The last list without filters stays on the phone for offline use.
import { h, add } from '../dom.js';
import { get } from '../api.js';
import { setQuery } from '../router.js';
import { field, formError, showErrors, clearErrors } from '../form.js';
import { recall, remember } from '../store.js';
import { dateNl } from '../fmt.js';
import { LEEFGEBIEDEN, query, card, count, openLine, place, choosePlace } from '../kaart.js';

const FETCH = 100; // one answer holds the whole list of most gemeenten (a few KB), also for offline use
const SHOW = 20;
const PC = /^\d{4}\s?[a-zA-Z]{2}$|^\d{4}$/;
const offlineNow = () => navigator.onLine === false;
const fold = (t) => String(t || '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '');

/** The filters in the address (from a step's link or a reload). */
function fromUrl() {
  const p = new URLSearchParams(location.search);
  return {
    q: p.get('q') || '', lg: new Set(p.getAll('leefgebied')), topic: p.getAll('topic'),
    open: p.get('open') === '1', gratis: p.get('gratis') === '1',
  };
}
const plain = (s) => !s.q && !s.lg.size && !s.topic.length && !s.open && !s.gratis;

/** Offline: the kept list, filtered here (roughly like the server: every word, by its start). */
function filterLocal(results, s) {
  const words = fold(s.q).split(/\s+/).filter(Boolean).map((w) => (w.length > 5 ? w.slice(0, -2) : w));
  return results.filter((r) => (!s.lg.size || r.leefgebieden.some((l) => s.lg.has(l)))
    && (!s.topic.length || r.topics.some((t) => s.topic.includes(t)))
    && (!s.gratis || r.free) && (!s.open || (openLine(r) || {}).open)
    && words.every((w) => fold(`${r.name} ${r.what} ${r.organization}`).includes(w)));
}

const toggle = (label, pressed, onclick) => h('button', { type: 'button', class: 'chip', 'aria-pressed': String(pressed), onclick }, label);

function flip(btn) {
  const on = btn.getAttribute('aria-pressed') !== 'true';
  btn.setAttribute('aria-pressed', String(on));
  return on;
}

// --- choosing a gemeente -------------------------------------------------------------------------------

function picker(box, current, chosen) {
  const q = h('input', {
    id: 'gemeente-q', type: 'search', autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search', 'aria-describedby': 'gemeente-hint',
  });
  const pc = field({ name: 'pc', label: 'Of vul je postcode in', hint: 'Bijvoorbeeld: 9712 HN.', autocomplete: 'postal-code', inputmode: 'text', enterkeyhint: 'search' });
  const status = h('p', { class: 'status', role: 'status' });
  const list = h('ul', { class: 'results', 'aria-label': 'Kies je gemeente' });
  list.hidden = true;
  let timer = 0;
  let ctrl = null;

  function show(rows, msg, postcode) {
    list.replaceChildren(...rows.map((g) => h('li', {}, h('button', {
      type: 'button', class: 'pick', onclick: () => chosen(g, postcode),
    }, g.weergavenaam || g.naam))));
    list.hidden = !rows.length;
    status.textContent = msg;
  }

  async function byName() {
    clearTimeout(timer);
    const text = q.value.trim();
    if (ctrl) ctrl.abort();
    if (text.length < 2) { show([], ''); return; }
    ctrl = new AbortController();
    const mine = ctrl;
    try {
      const rows = (await get('/api/gemeenten', { params: { q: text }, signal: mine.signal })).slice(0, 10);
      if (mine !== ctrl) return;
      show(rows, !rows.length ? `Geen gemeente gevonden voor "${text}". Kijk of je het goed hebt geschreven.`
        : rows.length === 1 ? '1 gemeente gevonden. Tik erop.' : `${rows.length} gemeenten gevonden. Tik op jouw gemeente.`);
    } catch (err) {
      if (err.name === 'AbortError' || mine !== ctrl) return;
      show([], err.status === 0 ? 'Zoeken lukt nu niet. Heb je internet? Probeer het later nog een keer.' : err.message);
    }
  }

  const pcForm = h('form', { novalidate: true }, pc.wrap, formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn btn-secondary', type: 'submit' }, 'Zoek met postcode')));
  pcForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(pcForm);
    const value = pc.input.value.trim();
    if (!PC.test(value)) { showErrors(pcForm, { fields: { pc: 'Schrijf je postcode zo: 1234 AB.' } }); return; }
    try {
      const info = await get('/api/postcodes/' + encodeURIComponent(value.replace(/\s/g, '')));
      if (info.gemeenten.length === 1) { chosen(info.gemeenten[0], info.postcode); return; }
      show(info.gemeenten, `Je postcode hoort bij ${info.gemeenten.length} gemeenten. Tik op jouw gemeente.`, info.postcode);
    } catch (err) {
      if (err.status === 404) { show([], 'Deze postcode kennen we nog niet. Zoek je gemeente hierboven op naam.'); q.focus(); return; }
      showErrors(pcForm, err.status === 0 ? { message: 'Dit lukt nu niet. Heb je internet? Probeer het later nog een keer.' }
        : { fields: { pc: (err.fields || {}).postcode || err.message } });
    }
  });

  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(byName, 300); });
  const nameForm = h('form', { role: 'search', 'aria-label': 'Gemeente zoeken', onsubmit: (e) => { e.preventDefault(); byName(); } },
    h('label', { for: 'gemeente-q' }, 'In welke gemeente woon je?'),
    h('span', { class: 'hint', id: 'gemeente-hint' }, 'Typ een deel van de naam. Bijvoorbeeld: Utrecht.'),
    h('div', { class: 'field-row' }, q, h('button', { class: 'btn', type: 'submit' }, 'Zoek')));

  add(box,
    h('p', { class: 'lead' }, 'Je ziet hier hulp in jouw gemeente. En hulp die overal in Nederland werkt.'),
    nameForm, status, list, pcForm,
    current ? h('p', {}, h('button', { type: 'button', class: 'linkish', onclick: () => chosen(null) }, `Terug naar hulp in ${current.naam}`)) : null);
  return () => { clearTimeout(timer); if (ctrl) ctrl.abort(); };
}

// --- searching -----------------------------------------------------------------------------------------

function search(box, where, other) {
  const s = fromUrl();
  const gm = encodeURIComponent(where.code);
  const q = h('input', {
    id: 'hulp-q', type: 'search', name: 'q', autocomplete: 'off', enterkeyhint: 'search', 'aria-describedby': 'hulp-q-hint',
  });
  q.value = s.q;
  const pc = field({ name: 'postcode', label: 'Je postcode', hint: 'Dan zie je hoe ver het is.', autocomplete: 'postal-code' });
  const naam = h('strong', {}, where.naam);
  const notes = h('div');
  const status = h('p', { class: 'status', role: 'status' });
  const list = h('ul', { class: 'cards' });
  const more = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, 'Laat meer zien');
  let found = []; // what the server gave so far (pages of FETCH); SHOW at a time on screen
  let total = 0;
  let page = 1;
  let online = true;
  let ctrl = null;
  let postcode = null;

  const rerun = () => { page = 1; sayFilters(); run(); };
  const lgChips = LEEFGEBIEDEN.map(([id, label]) => toggle(label, s.lg.has(id), (e) => {
    if (flip(e.currentTarget)) s.lg.add(id); else s.lg.delete(id);
    rerun();
  }));
  const extra = [
    s.topic.length ? toggle('Past bij je stap', true, (e) => { e.currentTarget.remove(); s.topic = []; rerun(); q.focus(); }) : null,
    toggle('Nu open', s.open, (e) => { s.open = flip(e.currentTarget); rerun(); }),
    toggle('Gratis', s.gratis, (e) => { s.gratis = flip(e.currentTarget); rerun(); }),
  ];

  function note(text) { notes.append(h('p', { class: 'notice' }, text)); }

  function showMore(focus) {
    const first = list.children.length;
    list.append(...found.slice(first, first + SHOW).map((r) => card(r, `/hulp/${gm}/${r.id}`)));
    more.hidden = list.children.length >= (online ? total : found.length);
    if (focus && list.children[first]) list.children[first].querySelector('a').focus();
  }

  async function run() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const mine = ctrl;
    s.q = q.value.trim();
    setQuery(plain(s) ? '' : '?' + query({ q: s.q, leefgebied: [...s.lg], topic: s.topic, open: s.open ? 1 : null, gratis: s.gratis ? 1 : null }));
    const key = 'hulp:' + where.code;
    let data = null;
    let kept = null;
    try {
      if (offlineNow()) throw { status: 0 };
      data = await get(`/api/kaart/${gm}/services?` + query({
        q: s.q, leefgebied: [...s.lg], topic: s.topic, open_now: s.open, gratis: s.gratis, postcode, page, per_page: FETCH,
      }), { signal: mine.signal });
    } catch (err) {
      if (err.name === 'AbortError' || mine !== ctrl) return;
      if (err.status !== 0) {
        if ((err.fields || {}).postcode) {
          afstand.open = true;
          showErrors(form, { fields: { postcode: err.fields.postcode } });
        } else status.textContent = err.message;
        return;
      }
      kept = await recall(key);
    }
    if (mine !== ctrl) return;
    online = !!data;
    if (page === 1) { list.replaceChildren(); notes.replaceChildren(); found = []; }
    if (data) {
      if (where.naam === where.code) naam.textContent = where.naam = data.gemeente.naam; // a profile from another phone
      found = found.concat(data.results);
      total = data.total;
      if (!data.kaart_published && page === 1) note(`${where.naam} heeft nog geen hulp online gezet. Je ziet nu hulp die overal in Nederland werkt.`);
      if (data.postcode && !data.postcode.known && page === 1) note('We kennen je postcode nog niet. Daarom zie je geen afstand.');
      if (plain(s)) remember(key, { at: new Date().toISOString(), data: { ...data, results: found } }).catch(() => {});
    } else if (kept) {
      found = filterLocal(kept.data.results, s);
      total = found.length;
      note(`Je bent offline. Dit is de lijst van ${dateNl(kept.at)}.`);
    } else {
      list.replaceChildren();
      status.textContent = 'Je bent offline. Zoeken lukt nu niet. Probeer het later nog een keer.';
      more.hidden = true;
      return;
    }
    showMore(page > 1);
    status.textContent = total ? count(total) : 'Geen hulp gevonden. Probeer een ander woord, of zet een keuze uit.';
  }

  more.addEventListener('click', () => {
    if (list.children.length < found.length || !online) showMore(true);
    else { page += 1; run(); }
  });
  const active = () => s.lg.size + s.topic.length + s.open + s.gratis;
  const summary = h('summary', {});
  const sayFilters = () => { summary.textContent = active() ? `Filters (${active()} aan)` : 'Filters: onderwerp, nu open, gratis'; };
  const filters = h('details', { open: active() > 0 }, summary,
    h('div', { class: 'chips', role: 'group', 'aria-labelledby': 'lg-label' }, h('p', { id: 'lg-label', class: 'chips-label' }, 'Onderwerp'), lgChips),
    h('div', { class: 'chips', role: 'group', 'aria-labelledby': 'only-label' }, h('p', { id: 'only-label', class: 'chips-label' }, 'Alleen'), extra));
  sayFilters();
  const far = h('summary', {}, 'Hoe ver is het?');
  const afstand = h('details', {}, far, pc.wrap, formError(),
      h('button', { class: 'btn btn-secondary', type: 'submit' }, 'Toon afstand'));
  const form = h('form', { role: 'search', 'aria-label': 'Hulp zoeken', novalidate: true },
    h('label', { for: 'hulp-q' }, 'Waar zoek je hulp bij?'),
    h('span', { class: 'hint', id: 'hulp-q-hint' }, 'Bijvoorbeeld: schulden, huisarts of huur.'),
    h('div', { class: 'field-row' }, q, h('button', { class: 'btn', type: 'submit' }, 'Zoek')),
    filters,
    afstand);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const value = pc.input.value.trim();
    if (value && !PC.test(value)) { showErrors(form, { fields: { postcode: 'Schrijf je postcode zo: 1234 AB.' } }); return; }
    postcode = value || null;
    far.textContent = postcode ? `Afstand vanaf ${postcode}` : 'Hoe ver is het?';
    remember('hulp_postcode', postcode).catch(() => {});
    rerun();
  });

  add(box,
    h('p', { class: 'lead' }, 'Hulp in ', naam, '. ',
      h('button', { type: 'button', class: 'linkish', onclick: other }, 'Andere gemeente')),
    form, notes, status, h('h2', { class: 'vh' }, 'Resultaten'), list, h('p', {}, more));
  recall('hulp_postcode').then((v) => {
    if (!box.isConnected) return;
    postcode = v || null;
    if (postcode) { pc.input.value = postcode; far.textContent = `Afstand vanaf ${postcode}`; }
    run();
  });
  return () => { if (ctrl) ctrl.abort(); };
}

export async function render(main) {
  const heading = h('h1', {}, 'Hulp in de buurt');
  const box = h('div');
  main.append(heading, box);
  let where = await place();
  if (!heading.isConnected) return undefined;
  let stop = null;

  function show(view, focusEl) {
    if (stop) stop();
    box.replaceChildren();
    stop = view();
    if (focusEl === 'input') box.querySelector('input').focus();
    else if (focusEl) heading.focus();
  }
  const chooseView = () => picker(box, where, async (g, postcode) => {
    if (g) {
      await choosePlace(g);
      where = await place();
      if (postcode) await remember('hulp_postcode', postcode);
    }
    show(searchView, true);
  });
  const searchView = () => search(box, where, () => show(chooseView, 'input'));
  show(where ? searchView : chooseView, false);
  return () => { if (stop) stop(); };
}
