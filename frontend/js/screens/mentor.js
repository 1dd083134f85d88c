// Meekijken: the mentor's side. Accept an invite, see each linked jongere's shared progress (read only),
// send an encouragement. Everything comes from the server on each visit: nothing about a jongere is kept
// on the mentor's device, so a revoked share is gone on the next load.
import { h, add, setFlash, takeFlash } from '../dom.js';
import { navigate } from '../router.js';
import { get, post, del } from '../api.js';
import { field, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { account, createAccount, login, remember } from '../store.js';
import { dueLine } from '../plan-ui.js';

const MAX = 280;
const BUCKETS = [['nu', 'Nu doen'], ['binnenkort', 'Binnenkort'], ['later', 'Later'], ['klaar', 'Klaar']];

function when(iso) {
  return new Date(iso).toLocaleDateString('nl-NL', { day: 'numeric', month: 'long', year: 'numeric' });
}

/** The account on this device, or the session an organisation login (OIDC) just made in this browser. */
async function whoAmI() {
  const acc = await account();
  if (acc) return acc;
  try {
    const me = await get('/api/me');
    await remember('account', me);
    return me;
  } catch { return null; }
}

const OIDC_ERRORS = {
  verlopen: 'Het inloggen duurde te lang. Probeer het opnieuw.',
  status: 'Het inloggen kon niet worden gecontroleerd. Probeer het opnieuw.',
  geweigerd: 'Je organisatie heeft het inloggen niet toegestaan, of je hebt het afgebroken.',
  aanbieder: 'De inlogdienst van je organisatie werkt nu niet. Probeer het later nog eens.',
  token: 'Het inloggen kon niet worden gecontroleerd. Probeer het opnieuw.',
  account: 'Dit account is geen meekijk-account. Log in met je gebruikersnaam en wachtwoord.',
  'te-veel': 'Te veel pogingen. Probeer het over een kwartier opnieuw.',
};

/** Where an organisation login that went wrong lands: /inloggen?fout=<code>. */
export async function loginFailed(main) {
  const code = new URLSearchParams(location.search).get('fout') || '';
  main.append(h('h1', {}, 'Inloggen lukte niet'),
    h('p', { class: 'form-error', role: 'alert' }, OIDC_ERRORS[code] || 'Het inloggen lukte niet. Probeer het opnieuw.'),
    h('p', {}, h('a', { class: 'btn', href: '/meekijken' }, 'Opnieuw proberen')));
}

async function providers() {
  try { return await get('/api/auth/oidc/providers'); } catch { return []; }
}

/** Not logged in: make a meekijk-account or log in (also with the organisation's login, when there is one). */
function loginChoice(main, next, intro) {
  const form = h('form', { novalidate: true });
  let mode = 'nieuw';
  const fields = h('div');
  const button = h('button', { class: 'btn', type: 'submit' });
  const toggle = h('button', { type: 'button', class: 'linkish' });
  const draw = () => {
    fields.replaceChildren(
      field({ name: 'username', label: 'Gebruikersnaam', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }).wrap,
      field({ name: 'password', label: 'Wachtwoord', type: 'password', autocomplete: mode === 'nieuw' ? 'new-password' : 'current-password',
        hint: mode === 'nieuw' ? 'Minstens 8 tekens.' : null }).wrap,
      mode === 'nieuw' ? field({ name: 'display_name', label: 'Je naam zoals de jongere je kent', autocomplete: 'name' }).wrap : null);
    button.textContent = mode === 'nieuw' ? 'Maak mijn meekijk-account' : 'Inloggen';
    toggle.textContent = mode === 'nieuw' ? 'Ik heb al een account: inloggen' : 'Ik heb nog geen account';
  };
  toggle.addEventListener('click', () => { mode = mode === 'nieuw' ? 'login' : 'nieuw'; clearErrors(form); draw(); });
  draw();
  form.append(fields, formError(), h('div', { class: 'actions' }, button));
  onSubmit(form, async () => {
    clearErrors(form);
    const v = Object.fromEntries(new FormData(form));
    try {
      if (mode === 'nieuw') {
        await createAccount({ username: v.username, password: v.password, display_name: v.display_name || null, account_type: 'mentor' });
        setFlash('Je meekijk-account is klaar.');
      } else {
        await login(v.username, v.password);
      }
      navigate(next, { replace: true });
    } catch (err) { showErrors(form, err); }
  });
  const orgs = h('div');
  providers().then((list) => {
    if (!list.length) return;
    orgs.append(h('h2', {}, 'Inloggen via je organisatie'),
      h('div', { class: 'actions' }, list.map((p) => h('a', {
        class: 'btn btn-secondary', href: `/api/auth/oidc/${encodeURIComponent(p.name)}/login?next=${encodeURIComponent(next)}`,
      }, p.label))));
  });
  main.append(h('p', { class: 'lead' }, intro), form, h('p', {}, toggle), orgs);
}

export async function accept(main, { code }) {
  const heading = h('h1', {}, 'Meekijken');
  main.append(heading);
  const acc = await whoAmI();
  if (!heading.isConnected) return;
  const here = '/meekijken/' + encodeURIComponent(code);
  if (!acc) {
    loginChoice(main, here, 'Je bent uitgenodigd om mee te kijken. Maak eerst een meekijk-account, of log in.');
    return;
  }
  let preview;
  try {
    preview = await get('/api/invites/' + encodeURIComponent(code));
  } catch (err) {
    if (!heading.isConnected) return;
    main.append(h('p', { class: 'form-error', role: 'alert' }, err.message), h('p', {}, h('a', { href: '/meekijken' }, 'Naar meekijken')));
    return;
  }
  if (!heading.isConnected) return;
  heading.textContent = `Meekijken met ${preview.jongere_name}`;
  const problem = formError();
  add(main,
    h('p', { class: 'lead' }, `${preview.jongere_name} vraagt je om mee te kijken als ${preview.role_label.toLowerCase()}.`),
    h('p', {}, preview.leefgebied_labels.length ? 'Je ziet de stappen over: ' + preview.leefgebied_labels.join(', ') + '.'
      : 'Je ziet nog geen stappen. De jongere kiest later wat je ziet.'),
    h('p', {}, 'De jongere ziet wanneer je kijkt, en kan het meekijken altijd stoppen.'),
    problem,
    h('div', { class: 'actions' }, h('button', {
      type: 'button', class: 'btn',
      onclick: async () => {
        problem.textContent = '';
        try {
          const s = await post('/api/invites/' + encodeURIComponent(code) + '/accept');
          setFlash(`Je kijkt nu mee met ${s.name}.`);
          navigate('/meekijken/jongere/' + s.link_id, { replace: true });
        } catch (err) { problem.textContent = err.message; }
      },
    }, 'Ja, ik kijk mee')));
}

function meters(lgs) {
  if (!lgs.length) return h('p', {}, 'Deze jongere deelt nu niets met je.');
  return h('ul', { class: 'meters' }, lgs.map((g) => h('li', { class: g.total && g.done === g.total ? 'meter full' : 'meter' },
    h('span', { class: 'meter-label' }, g.label),
    h('span', { class: 'meter-count' }, `${g.done} van ${g.total} klaar`),
    h('progress', { max: g.total || 1, value: g.done, 'aria-hidden': 'true' }))));
}

function facts(j) {
  return h('p', { class: 'meta' },
    j.age !== null ? `${j.age} jaar · ` : '',
    j.overdue ? `${j.overdue} te laat · ` : '',
    j.due_soon ? `${j.due_soon} binnenkort · ` : '',
    j.last_activity ? 'laatst actief op ' + when(j.last_activity) : 'nog niets afgevinkt');
}

export async function dashboard(main) {
  const flash = takeFlash();
  const heading = h('h1', {}, 'Meekijken');
  main.append(heading);
  const acc = await whoAmI();
  if (!heading.isConnected) return;
  if (!acc) {
    if (flash) main.append(h('p', { class: 'notice', role: 'status' }, flash));
    loginChoice(main, '/meekijken', 'Kijk mee met een jongere die je uitnodigde. Log in of maak een meekijk-account.');
    return;
  }
  if (acc.role !== 'mentor') {
    main.append(h('p', {}, 'Dit is voor mensen die meekijken. Wil je zelf iemand laten meekijken?'),
      h('p', {}, h('a', { class: 'btn', href: '/ik/meekijken' }, 'Wie kijkt mee?')));
    return;
  }
  let list;
  let inbox = null;
  try {
    [list, inbox] = await Promise.all([get('/api/mentor/jongeren'), get('/api/me/messages').catch(() => null)]);
  } catch (err) {
    if (heading.isConnected) main.append(h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  if (!heading.isConnected) return;
  if (flash) main.append(h('p', { class: 'notice', role: 'status' }, flash));
  const code = field({ name: 'code', label: 'Heb je een code gekregen?', hint: '8 tekens, bijvoorbeeld ABCD2345.', autocapitalize: 'characters', autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { novalidate: true }, code.wrap, formError(), h('div', { class: 'actions' }, h('button', { class: 'btn btn-secondary', type: 'submit' }, 'Gebruik de code')));
  onSubmit(form, async () => {
    const value = code.input.value.replace(/[^a-z0-9]/gi, '');
    if (!value) { showErrors(form, { fields: { code: 'Vul de code in.' } }); return; }
    navigate('/meekijken/' + encodeURIComponent(value.toUpperCase()));
  });
  main.append(h('p', { class: 'lead' }, list.length ? 'Met deze jongeren kijk je mee.' : 'Je kijkt nog met niemand mee.'));
  if (inbox && inbox.unread) {
    main.append(h('p', {}, h('a', { class: 'btn btn-secondary', href: '/ik/berichten' },
      inbox.unread === 1 ? '1 nieuw seintje' : `${inbox.unread} nieuwe seintjes`)));
  }
  if (list.length) {
    main.append(h('ul', { class: 'cards' }, list.map((j) => h('li', { class: 'card' },
      h('h2', {}, h('a', { href: '/meekijken/jongere/' + j.link_id }, j.name), h('span', { class: 'meta' }, ' · je bent ' + j.role_label.toLowerCase())),
      facts(j),
      meters(j.leefgebieden)))));
  }
  main.append(form);
}

function encourageForm(j) {
  const text = h('textarea', { id: 'f-text', name: 'text', rows: '3', maxlength: String(MAX), 'aria-describedby': 'f-text-hint f-text-err' });
  const count = h('span', { class: 'hint', id: 'f-text-hint' }, `Hoogstens ${MAX} tekens.`);
  text.addEventListener('input', () => { count.textContent = `Nog ${MAX - text.value.length} tekens.`; });
  const sent = h('p', { role: 'status' });
  const form = h('form', { novalidate: true },
    h('div', { class: 'field', 'data-field': 'text' },
      h('label', { for: 'f-text' }, 'Je eigen bericht'), count,
      h('p', { class: 'field-error', id: 'f-text-err', role: 'alert' }), text),
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Verstuur')));
  const send = async (value) => {
    clearErrors(form);
    sent.textContent = '';
    try {
      await post(`/api/mentor/jongeren/${j.link_id}/encouragements`, { text: value });
      sent.textContent = `Verstuurd. ${j.name} ziet je bericht in de app.`;
      text.value = '';
    } catch (err) { showErrors(form, err); }
  };
  onSubmit(form, () => send(text.value));
  return h('section', { 'aria-labelledby': 'm-bericht' },
    h('h2', { id: 'm-bericht' }, 'Moedig aan'),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => send('Goed bezig!') }, 'Stuur "Goed bezig!"')),
    form, sent);
}

export async function jongere(main, { link }) {
  const flash = takeFlash();
  const heading = h('h1', {}, 'Meekijken');
  main.append(heading);
  let j;
  try { j = await get(`/api/mentor/jongeren/${encodeURIComponent(link)}/plan`); } catch (err) {
    if (!heading.isConnected) return;
    main.append(h('p', { class: 'form-error', role: 'alert' }, err.status === 401 ? 'Log eerst in.' : err.message),
      h('p', {}, h('a', { href: '/meekijken' }, 'Naar meekijken')));
    return;
  }
  if (!heading.isConnected) return;
  heading.textContent = j.name;
  add(main, flash ? h('p', { class: 'notice', role: 'status' }, flash) : null, facts(j), meters(j.leefgebieden));
  const labels = Object.fromEntries(j.leefgebieden.map((g) => [g.leefgebied, g.label]));
  const steps = h('section', { 'aria-labelledby': 'm-stappen' }, h('h2', { id: 'm-stappen' }, 'Gedeelde stappen'));
  if (!j.has_plan) steps.append(h('p', {}, `${j.name} heeft nog geen plan gemaakt.`));
  else if (!j.steps.length) steps.append(h('p', {}, 'Er zijn geen gedeelde stappen.'));
  for (const [bucket, title] of BUCKETS) {
    const items = j.steps.filter((s) => s.bucket === bucket);
    if (!items.length) continue;
    steps.append(h('h3', {}, title), h('ul', { class: 'todos' }, items.map((s) => h('li', { class: 'todo' },
      h('span', { class: 'todo-title' }, s.title),
      h('span', { class: 'meta lg' }, labels[s.leefgebied] || ''),
      dueLine(s)))));
  }
  const problem = formError();
  main.append(encourageForm(j), steps, h('section', { 'aria-labelledby': 'm-stop' },
    h('h2', { id: 'm-stop' }, 'Stoppen'),
    h('p', {}, `Wil je niet meer meekijken met ${j.name}? Dan ziet ${j.name} dat.`),
    problem,
    h('button', {
      type: 'button', class: 'btn btn-secondary',
      onclick: async () => {
        try {
          await del('/api/mentor/jongeren/' + j.link_id);
          setFlash(`Je kijkt niet meer mee met ${j.name}.`);
          navigate('/meekijken');
        } catch (err) { problem.textContent = err.message; }
      },
    }, 'Stop met meekijken')));
}
