// The 3 questions after the welcome screen (/start/...), also used to change one answer (/ik/gegevens/...).
import { h, add, setFlash } from '../dom.js';
import { get } from '../api.js';
import { navigate } from '../router.js';
import { field, radios, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { getProfile, saveProfile, checkBirthDate } from '../store.js';
import { parseDate, todayIso, ageOn } from '../fmt.js';

const STEPS = ['geboortedatum', 'gemeente', 'wonen'];
const SITUATIONS = [
  ['instelling', 'In een instelling of leefgroep'],
  ['pleeggezin', 'In een pleeggezin'],
  ['thuis', 'Thuis, bij mijn ouders of familie'],
  ['zelfstandig', 'Zelfstandig, op mezelf'],
];
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

function gemeenteStep(form, draft) {
  const q = h('input', {
    id: 'f-q', type: 'search', autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search',
    'aria-describedby': 'f-q-hint f-gemeente_code-err',
  });
  const status = h('p', { class: 'status', role: 'status' });
  const list = h('div', { class: 'choice-list' });
  const group = h('fieldset', { class: 'choices' }, h('legend', {}, 'Kies je gemeente'), list);
  group.hidden = true;
  let chosen = draft.gemeente_code ? { code: draft.gemeente_code, naam: draft.gemeente_naam } : null;
  let timer = 0;
  let ctrl = null;

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
    list.replaceChildren(...shown.map((g, i) => h('div', { class: 'choice' },
      h('input', {
        type: 'radio', name: 'gemeente', id: 'f-gm-' + i, value: g.code,
        checked: !!chosen && chosen.code === g.code,
        onchange: () => { chosen = { code: g.code, naam: g.weergavenaam || g.naam }; },
      }),
      h('label', { for: 'f-gm-' + i }, g.weergavenaam || g.naam))));
    group.hidden = shown.length === 0;
    status.textContent = rows.length === 0 ? `Geen gemeente gevonden voor "${text}". Kijk of je het goed schreef.`
      : rows.length === 1 ? '1 gemeente gevonden. Kies hem hieronder.'
        : rows.length > MAX_SHOWN ? `Meer dan ${MAX_SHOWN} gemeenten gevonden. Typ meer letters.`
          : `${rows.length} gemeenten gevonden. Kies je gemeente hieronder.`;
  }

  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 300); });
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); search(); } });
  form.append(h('div', { class: 'field', 'data-field': 'gemeente_code' },
    h('label', { for: 'f-q' }, 'Zoek je gemeente'),
    h('span', { class: 'hint', id: 'f-q-hint' }, 'Typ een deel van de naam. Bijvoorbeeld: Utrecht.'),
    h('p', { class: 'field-error', id: 'f-gemeente_code-err', role: 'alert' }),
    h('div', { class: 'field-row' }, q, h('button', { class: 'btn btn-secondary', type: 'button', onclick: search }, 'Zoek')),
    status, group));
  if (chosen && chosen.naam) { q.value = chosen.naam; search(); }
  return {
    title: 'In welke gemeente woon je?',
    intro: 'Dan zie je straks ook hulp bij jou in de buurt.',
    async submit() {
      const picked = list.querySelector('input:checked');
      if (!picked || !chosen) throw { fields: { gemeente_code: 'Zoek je gemeente en kies hem uit de lijst.' } };
      return { gemeente_code: chosen.code, gemeente_naam: chosen.naam };
    },
    cleanup() { clearTimeout(timer); if (ctrl) ctrl.abort(); },
  };
}

function wonenStep(form, draft) {
  const date = field({
    name: 'vertrekdatum', label: 'Wanneer ga je daar weg?', type: 'date', value: draft.vertrekdatum,
    hint: 'Dit heet je vertrekdatum. Bijvoorbeeld de dag dat je jeugdhulp stopt of dat je verhuist.',
  });
  const unknown = h('input', { type: 'checkbox', id: 'f-onbekend', checked: !!draft.birth_date && draft.situation !== undefined && !draft.vertrekdatum });
  const sync = () => { date.input.disabled = unknown.checked; if (unknown.checked) date.input.value = ''; };
  unknown.addEventListener('change', sync);
  form.append(
    radios({ name: 'situation', legend: 'Kies wat het beste past', options: SITUATIONS, value: draft.situation }),
    date.wrap,
    h('div', { class: 'choice' }, unknown, h('label', { for: 'f-onbekend' }, 'Ik weet het nog niet')),
  );
  sync();
  return {
    title: 'Waar woon je nu?',
    intro: 'Weet je het nog niet precies? Dat is niet erg. Je kunt dit later veranderen.',
    async submit() {
      const text = unknown.checked ? '' : date.input.value;
      const iso = parseDate(text);
      if (text && !iso) throw { fields: { vertrekdatum: 'Je vertrekdatum klopt niet. Kies een datum die bestaat.' } };
      const sit = form.querySelector('input[name=situation]:checked');
      return { situation: sit ? sit.value : null, vertrekdatum: iso };
    },
  };
}

const BUILD = { geboortedatum: birthStep, gemeente: gemeenteStep, wonen: wonenStep };

export async function render(main, { stap }) {
  const edit = location.pathname.startsWith('/ik/');
  const i = STEPS.indexOf(stap);
  if (i < 0) {
    main.append(h('h1', {}, 'Deze pagina bestaat niet'), h('p', {}, h('a', { href: '/' }, 'Ga naar Vandaag')));
    return;
  }
  const marker = h('span');
  main.append(marker);
  const profile = await getProfile();
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

  const form = h('form', { novalidate: true, class: 'stack' });
  const step = BUILD[stap](form, draft, edit);
  const last = edit || i === STEPS.length - 1;
  form.append(
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' },
      edit ? 'Opslaan' : last ? 'Maak mijn plan' : 'Volgende')),
    h('p', {}, h('a', { href: edit ? '/ik' : i === 0 ? '/' : '/start/' + STEPS[i - 1] }, edit ? 'Annuleren' : 'Terug')),
  );
  onSubmit(form, async () => {
    clearErrors(form);
    try {
      Object.assign(draft, await step.submit());
      if (!last) {
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
    edit ? null : h('p', { class: 'step-count' }, `Vraag ${i + 1} van ${STEPS.length}`),
    h('h1', {}, step.title),
    h('p', { class: 'lead' }, step.intro),
    form,
  );
  return step.cleanup;
}
