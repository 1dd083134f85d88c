// The questions after the welcome screen (/start/...), also used to change one answer (/ik/gegevens/...).
import { h, add, setFlash } from '../dom.js';
import { get } from '../api.js';
import { navigate } from '../router.js';
import { field, radios, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { getProfile, saveProfile, checkBirthDate, loadContent, asksFuture } from '../store.js';
import { parseDate, todayIso, ageOn } from '../fmt.js';

const STEPS = ['geboortedatum', 'gemeente', 'wonen', 'na-vertrek'];
const MAX_SHOWN = 10;

let memDraft = {};
function loadDraft() {
  try { return JSON.parse(sessionStorage.getItem('sk_draft') || 'null') || memDraft; } catch { return memDraft; }
}
function keepDraft(d) {
  memDraft = d;
  try { sessionStorage.setItem('sk_draft', JSON.stringify(d)); } catch { /* memory only */ }
}
function dropDraft() {
  memDraft = {};
  try { sessionStorage.removeItem('sk_draft'); } catch { /* memory only */ }
}

function birthStep(form, draft, edit) {
  const f = field({
    name: 'birth_date', label: 'Je geboortedatum', hint: 'Bijvoorbeeld: 15-03-2008.', type: 'date',
    value: draft.birth_date, autocomplete: 'bday', max: todayIso(),
  });
  form.append(f.wrap);
  return {
    title: 'Wat is je geboortedatum?',
    intro: 'Dan weten we wanneer je 18 wordt. En wat je wanneer moet regelen.',
    async submit() {
      const text = f.input.value;
      const iso = parseDate(text);
      let msg = !text ? 'Vul je geboortedatum in.' : !iso ? 'Je geboortedatum klopt niet. Kies een datum die bestaat.' : null;
      if (!msg && !edit) {
        try {
          msg = await checkBirthDate(iso); // the server's rule and words
        } catch {
          const age = ageOn(iso, todayIso()); // offline: the same rule here
          if (age < 12 || age > 30) msg = 'Je geboortedatum klopt niet: je moet tussen 12 en 30 jaar zijn.';
        }
      }
      if (msg) throw { fields: { birth_date: msg } };
      return { birth_date: iso };
    },
  };
}

/** Gemeente search, results as radios; extra: [[value, label]] choices below them. */
function gemeentePicker({ p, name, label, hint, legend, chosen, extra = [], value }) {
  const q = h('input', {
    id: p, type: 'search', autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search',
    'aria-describedby': `${p}-hint f-${name}-err`,
  });
  const status = h('p', { class: 'status', role: 'status' });
  const list = h('div', { class: 'choice-list' });
  const group = h('fieldset', { class: 'choices' }, h('legend', {}, legend), list);
  group.hidden = true;
  let timer = 0;
  let ctrl = null;
  // Two radio groups (Tab goes from Zoek to the first gemeente found), one choice.
  const radio = (id, v, text, g, name = 'gemeente') => h('div', { class: 'choice' },
    h('input', {
      type: 'radio', name, id, value: v, checked: v === value,
      onchange: () => { value = v; chosen = g; for (const el of wrap.querySelectorAll('[type=radio]')) el.checked = el.id === id; },
    }),
    h('label', { for: id }, text));

  async function search() {
    clearTimeout(timer);
    const text = q.value.trim();
    if (ctrl) ctrl.abort();
    if (text.length < 2) { group.hidden = true; status.textContent = ''; return; }
    ctrl = new AbortController();
    const mine = ctrl;
    let rows;
    try {
      rows = await get('/api/gemeenten', { params: { q: text }, signal: mine.signal });
    } catch (err) {
      if (err.name === 'AbortError' || mine !== ctrl) return;
      group.hidden = true;
      status.textContent = err.status === 0 ? 'Zoeken lukt nu niet. Heb je internet? Probeer het zo nog een keer.' : err.message;
      return;
    }
    if (mine !== ctrl) return;
    const shown = rows.slice(0, MAX_SHOWN);
    list.replaceChildren(...shown.map((g, i) => radio(`${p}-${i}`, g.code, g.weergavenaam || g.naam,
      { code: g.code, naam: g.weergavenaam || g.naam })));
    group.hidden = shown.length === 0;
    status.textContent = rows.length === 0 ? `Geen gemeente gevonden voor "${text}". Kijk of je het goed schreef.`
      : rows.length === 1 ? '1 gemeente gevonden. Kies hem hieronder.'
        : rows.length > MAX_SHOWN ? `Meer dan ${MAX_SHOWN} gemeenten gevonden. Typ meer letters.`
          : `${rows.length} gemeenten gevonden. Kies hieronder.`;
  }

  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 300); });
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); search(); } });
  const wrap = h('div', { class: 'field', 'data-field': name },
    h('label', { for: p }, label),
    h('span', { class: 'hint', id: p + '-hint' }, hint),
    h('p', { class: 'field-error', id: `f-${name}-err`, role: 'alert' }),
    h('div', { class: 'field-row' }, q, h('button', { class: 'btn btn-secondary', type: 'button', onclick: search }, 'Zoek')),
    status, group,
    extra.length ? h('fieldset', { class: 'choices' }, h('legend', {}, 'Of kies:'),
      extra.map(([v, text], i) => radio(`${p}-x${i}`, v, text, null, 'keuze'))) : null);
  if (chosen && chosen.naam) { q.value = chosen.naam; search(); }
  return {
    wrap,
    picked() {
      const el = wrap.querySelector('[type=radio]:checked');
      return !el ? null : chosen && el.value === chosen.code ? chosen : extra.some((x) => x[0] === el.value) ? { code: el.value } : null;
    },
    cleanup() { clearTimeout(timer); if (ctrl) ctrl.abort(); },
  };
}

function gemeenteStep(form, draft) {
  const pick = gemeentePicker({
    p: 'f-q', name: 'gemeente_code', label: 'Zoek je gemeente', hint: 'Typ een deel van de naam. Bijvoorbeeld: Utrecht.',
    legend: 'Kies je gemeente', chosen: draft.gemeente_code ? { code: draft.gemeente_code, naam: draft.gemeente_naam } : null,
    value: draft.gemeente_code,
  });
  form.append(pick.wrap);
  return {
    title: 'In welke gemeente woon je?',
    intro: 'Dan zie je straks ook hulp bij jou in de buurt.',
    async submit() {
      const g = pick.picked();
      if (!g) throw { fields: { gemeente_code: 'Zoek je gemeente en kies hem uit de lijst.' } };
      return { gemeente_code: g.code, gemeente_naam: g.naam };
    },
    cleanup: pick.cleanup,
  };
}

function futureStep(form, draft, edit) {
  const code = draft.future_gemeente_code;
  const pick = gemeentePicker({
    p: 'f-fq', name: 'future_gemeente_code', label: 'Zoek de gemeente', hint: 'Typ een deel van de naam. Bijvoorbeeld: Zwolle.',
    legend: 'Kies de gemeente', chosen: code ? { code, naam: draft.future_gemeente_naam } : null,
    extra: [['zelfde', `In dezelfde gemeente${draft.gemeente_naam ? ` (${draft.gemeente_naam})` : ''}`], ['onbekend', 'Weet ik nog niet']],
    value: code || ((draft.future_unknown ?? !edit) ? 'onbekend' : 'zelfde'),
  });
  form.append(pick.wrap);
  return {
    title: draft.vertrekdatum ? 'Waar ga je wonen na je vertrek?' : 'Ga je verhuizen? Waar ga je dan wonen?',
    intro: 'Dan zie je hulp in de gemeente waar je gaat wonen. Je kunt dit later veranderen.',
    async submit() {
      const g = pick.picked();
      if (!g) throw { fields: { future_gemeente_code: 'Zoek de gemeente en kies hem. Of kies: Weet ik nog niet.' } };
      const own = g.code === 'zelfde' || g.code === 'onbekend';
      return { future_gemeente_code: own ? null : g.code, future_gemeente_naam: own ? null : g.naam, future_unknown: g.code === 'onbekend' };
    },
    cleanup: pick.cleanup,
  };
}

function wonenStep(form, draft, edit, situations) {
  const date = field({
    name: 'vertrekdatum', label: 'Wanneer ga je daar weg?', type: 'date', value: draft.vertrekdatum,
    hint: 'Dit heet je vertrekdatum. Bijvoorbeeld de dag dat je jeugdhulp stopt of dat je verhuist.',
  });
  const unknown = h('input', { type: 'checkbox', id: 'f-onbekend', checked: !!draft.birth_date && draft.situation !== undefined && !draft.vertrekdatum });
  const sync = () => { date.input.disabled = unknown.checked; if (unknown.checked) date.input.value = ''; };
  unknown.addEventListener('change', sync);
  form.append(
    situations ? radios({ name: 'situation', legend: 'Kies wat het beste past', options: situations.map((x) => [x.id, x.label]), value: draft.situation })
      : h('p', { class: 'notice' }, 'De keuzes laden nu niet. Heb je internet? Je kunt dit later invullen.'),
    date.wrap,
    h('div', { class: 'choice' }, unknown, h('label', { for: 'f-onbekend' }, 'Ik weet het nog niet')),
  );
  sync();
  const peek = () => {
    const sit = form.querySelector('input[name=situation]:checked');
    return { situation: sit ? sit.value : situations ? null : draft.situation || null, vertrekdatum: unknown.checked ? '' : date.input.value };
  };
  return {
    title: 'Waar woon je nu?',
    intro: 'Weet je het nog niet precies? Dat is niet erg. Je kunt dit later veranderen.',
    peek,
    async submit() {
      const { situation, vertrekdatum: text } = peek();
      const iso = parseDate(text);
      if (text && !iso) throw { fields: { vertrekdatum: 'Je vertrekdatum klopt niet. Kies een datum die bestaat.' } };
      const out = { situation, vertrekdatum: iso };
      return asksFuture(out) ? out : { ...out, future_gemeente_code: null, future_gemeente_naam: null, future_unknown: undefined };
    },
  };
}

const BUILD = { geboortedatum: birthStep, gemeente: gemeenteStep, wonen: wonenStep, 'na-vertrek': futureStep };

export async function render(main, { stap }) {
  const edit = location.pathname.startsWith('/ik/');
  const i = STEPS.indexOf(stap);
  if (i < 0) {
    main.append(h('h1', {}, 'Deze pagina bestaat niet'), h('p', {}, h('a', { href: '/' }, 'Ga naar Vandaag')));
    return;
  }
  const marker = h('span');
  main.append(marker);
  const [profile, content] = await Promise.all([getProfile(), stap === 'wonen' ? loadContent().catch(() => null) : null]);
  if (!marker.isConnected) return;
  marker.remove();
  let draft;
  if (edit) {
    if (!profile) return navigate('/start/geboortedatum', { replace: true });
    draft = { ...profile };
  } else {
    draft = loadDraft();
    if (profile && !draft.birth_date) return navigate('/', { replace: true });
    if (i > 0 && !draft.birth_date) return navigate('/start/geboortedatum', { replace: true });
  }
  if (stap === 'na-vertrek' && !asksFuture(draft)) return navigate(edit ? '/ik' : '/start/wonen', { replace: true });

  const form = h('form', { novalidate: true, class: 'stack' });
  const step = BUILD[stap](form, draft, edit, content && content.situations);
  const isLast = () => edit || i === STEPS.length - 1 || (stap === 'wonen' && !asksFuture(step.peek()));
  const submitBtn = h('button', { class: 'btn', type: 'submit' });
  const label = () => { submitBtn.textContent = edit ? 'Opslaan' : isLast() ? 'Maak mijn plan' : 'Volgende'; };
  label();
  if (step.peek) form.addEventListener('change', label);
  form.append(
    formError(),
    h('div', { class: 'actions' }, submitBtn),
    h('p', {}, h('a', { href: edit ? '/ik' : i === 0 ? '/' : '/start/' + STEPS[i - 1] }, edit ? 'Annuleren' : 'Terug')),
  );
  onSubmit(form, async () => {
    clearErrors(form);
    try {
      Object.assign(draft, await step.submit());
      if (!isLast()) {
        keepDraft(draft);
        return navigate('/start/' + STEPS[i + 1]);
      }
      const checked = await saveProfile(draft);
      dropDraft();
      setFlash(edit ? 'Je gegevens zijn opgeslagen.' : checked ? 'Je plan is klaar.' : '');
      navigate(edit ? '/ik' : '/');
    } catch (err) {
      showErrors(form, err);
    }
  });

  add(main,
    edit ? null : h('p', { class: 'step-count' }, i < 3 ? `Vraag ${i + 1} van 3` : 'Nog één vraag'),
    h('h1', {}, step.title),
    h('p', { class: 'lead' }, step.intro),
    form,
  );
  return step.cleanup;
}
