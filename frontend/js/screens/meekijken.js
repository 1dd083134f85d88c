// Wie kijkt mee? The jongere decides who follows along and what they see: invite, change, stop, and see
// who looked at what. Nothing is shared until the jongere ticks it.
import { h, add, setFlash, takeFlash } from '../dom.js';
import { navigate } from '../router.js';
import { get, post, put, del } from '../api.js';
import { radios, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { account, loadContent } from '../store.js';
import { dateNl } from '../fmt.js';

const ROLES = [
  ['jim', 'Mijn JIM (iemand die ik zelf koos)'],
  ['mentor', 'Mijn mentor'],
  ['begeleider', 'Mijn begeleider'],
  ['familie', 'Iemand uit mijn familie'],
  ['anders', 'Iemand anders'],
];

const dayOf = (iso) => dateNl(String(iso).slice(0, 10));
const localDay = (iso) => {
  const d = new Date(iso);
  return dateNl(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`);
};

async function leefgebieden() {
  const content = await loadContent();
  return (content && content.leefgebieden) || [];
}

/** Tick boxes for the leefgebieden; none ticked unless `chosen` says so. */
function lgBoxes(options, chosen = []) {
  return h('fieldset', { class: 'field choices', 'data-field': 'leefgebieden', 'aria-describedby': 'f-lg-hint f-lg-err' },
    h('legend', {}, 'Wat mag deze persoon zien?'),
    h('span', { class: 'hint', id: 'f-lg-hint' }, 'Vink aan wat je wilt delen. Je kunt dit altijd weer veranderen.'),
    h('p', { class: 'field-error', id: 'f-lg-err', role: 'alert' }),
    options.map((lg, i) => h('div', { class: 'choice' },
      h('input', { type: 'checkbox', name: 'leefgebieden', id: `f-lg-${i}`, value: lg.id, checked: chosen.includes(lg.id) }),
      h('label', { for: `f-lg-${i}` }, lg.label))));
}

const checked = (form, name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);

/** Sharing needs an account: the other person reads it from the server. */
async function needAccount(main, heading) {
  const acc = await account();
  if (!heading.isConnected) return null;
  if (!acc) {
    main.append(
      h('p', { class: 'lead' }, 'Wil je dat iemand met je meekijkt? Dan heb je een account nodig.'),
      h('p', {}, 'Je kiest zelf wie meekijkt en wat die persoon ziet.'),
      h('div', { class: 'actions' },
        h('a', { class: 'btn', href: '/ik/account' }, 'Maak een account'),
        h('a', { class: 'btn btn-secondary', href: '/ik/inloggen' }, 'Inloggen')));
    return null;
  }
  if (acc.role !== 'jongere') {
    main.append(h('p', {}, 'Dit is voor jongeren. Jij kijkt mee bij anderen.'), h('p', {}, h('a', { href: '/meekijken' }, 'Ga naar meekijken')));
    return null;
  }
  return acc;
}

function seesText(ids, labels) {
  return ids.length ? ids.map((id) => labels[id] || id).join(', ') : 'Nog niets. Jij kiest wat je deelt.';
}

export async function render(main) {
  const flash = takeFlash();
  const heading = h('h1', {}, 'Wie kijkt mee?');
  main.append(heading);
  if (!await needAccount(main, heading)) return;
  let data;
  let options;
  try {
    [data, options] = await Promise.all([get('/api/me/followers'), leefgebieden()]);
  } catch (err) {
    if (heading.isConnected) main.append(h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  if (!heading.isConnected) return;
  const labels = Object.fromEntries(options.map((o) => [o.id, o.label]));
  add(main,
    flash ? h('p', { class: 'notice', role: 'status' }, flash) : null,
    h('p', { class: 'lead' }, 'Je kiest zelf wie met je meekijkt. En wat die persoon ziet.'),
    h('p', { class: 'actions' }, h('a', { class: 'btn', href: '/ik/meekijken/uitnodigen' }, 'Nodig iemand uit')));

  const people = h('section', { 'aria-labelledby': 'mk-mensen' }, h('h2', { id: 'mk-mensen' }, 'Kijken nu mee'));
  if (!data.followers.length) people.append(h('p', {}, 'Er kijkt nog niemand mee.'));
  else {
    people.append(h('ul', { class: 'cards' }, data.followers.map((f) => h('li', { class: 'card' },
      h('h3', {}, f.name, h('span', { class: 'meta' }, ' · ' + f.role_label)),
      h('p', {}, h('strong', {}, 'Ziet: '), seesText(f.leefgebieden, labels)),
      h('p', { class: 'meta' }, f.last_viewed_at ? 'Keek voor het laatst op ' + localDay(f.last_viewed_at) + '.' : 'Heeft nog niet gekeken.'),
      h('p', {}, h('a', { class: 'btn btn-secondary', href: '/ik/meekijken/' + f.link_id }, 'Wijzig of stop',
        h('span', { class: 'vh' }, ' (' + f.name + ')')))))));
  }
  main.append(people);

  if (data.invites.length) {
    const problem = formError();
    main.append(h('section', { 'aria-labelledby': 'mk-uitnodigingen' },
      h('h2', { id: 'mk-uitnodigingen' }, 'Uitnodigingen die nog open staan'),
      problem,
      h('ul', { class: 'cards' }, data.invites.map((inv) => h('li', { class: 'card' },
        h('p', {}, h('strong', {}, inv.role_label), ' · werkt tot ', dayOf(inv.expires_at)),
        h('p', {}, 'Ziet: ', seesText(inv.leefgebieden, labels)),
        h('button', {
          type: 'button', class: 'btn btn-secondary',
          onclick: async () => {
            problem.textContent = '';
            try {
              await del('/api/me/invites/' + inv.id);
              setFlash('De uitnodiging is ingetrokken. De code werkt niet meer.');
              navigate('/ik/meekijken', { replace: true });
            } catch (err) { problem.textContent = err.message; }
          },
        }, 'Trek in', h('span', { class: 'vh' }, ' (uitnodiging voor ' + inv.role_label + ')')))))));
  }
  main.append(h('p', {}, h('a', { href: '/ik/meekijken/logboek' }, 'Wie heeft wat bekeken?')));
}

export async function invite(main) {
  const heading = h('h1', {}, 'Nodig iemand uit');
  main.append(heading);
  if (!await needAccount(main, heading)) return;
  const options = await leefgebieden();
  if (!heading.isConnected) return;
  const form = h('form', { novalidate: true },
    radios({ name: 'role', legend: 'Wie wil je uitnodigen?', options: ROLES }),
    lgBoxes(options),
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Maak een code')));
  onSubmit(form, async () => {
    clearErrors(form);
    const role = (form.querySelector('input[name="role"]:checked') || {}).value;
    if (!role) { showErrors(form, { fields: { role: 'Kies wie je uitnodigt.' } }); return; }
    try {
      const made = await post('/api/me/invites', { role, leefgebieden: checked(form, 'leefgebieden') });
      showCode(main, made);
    } catch (err) { showErrors(form, err); }
  });
  main.append(
    h('p', { class: 'lead' }, 'Je krijgt een code. Geef die aan de persoon die mag meekijken.'),
    form);
}

function showCode(main, made) {
  const heading = h('h1', { tabindex: '-1' }, 'Je code is klaar');
  const done = h('p', { role: 'status' });
  const copy = async (text, what) => {
    try { await navigator.clipboard.writeText(text); done.textContent = what + ' is gekopieerd.'; } catch { done.textContent = 'Kopiëren lukte niet. Schrijf de code over.'; }
  };
  const share = navigator.share ? h('button', {
    type: 'button', class: 'btn',
    onclick: () => navigator.share({ title: 'Kijk mee in Startklaar', text: `Mijn code voor Startklaar: ${made.code}`, url: made.url }).catch(() => {}),
  }, 'Deel de link') : null;
  main.replaceChildren(
    heading,
    h('p', { class: 'lead' }, 'Geef deze code aan de persoon die mag meekijken.'),
    h('p', { class: 'code' }, h('span', { class: 'vh' }, 'De code: '), made.code),
    h('p', {}, 'De code werkt één keer, tot ', dayOf(made.expires_at), '.'),
    h('p', {}, 'Of stuur deze link: ', h('a', { href: made.url }, made.url)),
    h('div', { class: 'actions' }, share,
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => copy(made.url, 'De link') }, 'Kopieer de link')),
    done,
    h('p', {}, h('a', { href: '/ik/meekijken' }, 'Terug naar Wie kijkt mee?')));
  document.title = 'Je code · Startklaar';
  heading.focus();
}

export async function edit(main, { link }) {
  const heading = h('h1', {}, 'Wat ziet deze persoon?');
  main.append(heading);
  if (!await needAccount(main, heading)) return;
  const [data, options] = await Promise.all([get('/api/me/followers'), leefgebieden()]);
  if (!heading.isConnected) return;
  const f = data.followers.find((x) => String(x.link_id) === String(link));
  if (!f) {
    main.append(h('p', {}, 'Deze persoon kijkt niet (meer) met je mee.'), h('p', {}, h('a', { href: '/ik/meekijken' }, 'Terug')));
    return;
  }
  heading.textContent = `Wat ziet ${f.name}?`;
  const nudge = h('input', { type: 'checkbox', id: 'f-nudge', name: 'nudges_enabled', checked: f.nudges_enabled });
  const form = h('form', { novalidate: true },
    lgBoxes(options, f.leefgebieden),
    h('div', { class: 'choice' }, nudge, h('label', { for: 'f-nudge' }, `${f.name} krijgt een seintje als een stap 2 weken te laat is`)),
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Bewaar')));
  onSubmit(form, async () => {
    clearErrors(form);
    try {
      await put('/api/me/followers/' + f.link_id, { leefgebieden: checked(form, 'leefgebieden'), nudges_enabled: nudge.checked });
      setFlash('Bewaard. Het geldt meteen.');
      navigate('/ik/meekijken');
    } catch (err) { showErrors(form, err); }
  });
  const stopError = formError();
  const stop = h('section', { 'aria-labelledby': 'mk-stop' },
    h('h2', { id: 'mk-stop' }, 'Stoppen met delen'),
    h('p', {}, `${f.name} ziet dan meteen niets meer van jou.`),
    stopError,
    h('button', {
      type: 'button', class: 'btn btn-danger',
      onclick: async () => {
        stopError.textContent = '';
        try {
          await del('/api/me/followers/' + f.link_id);
          setFlash(`${f.name} kijkt niet meer mee.`);
          navigate('/ik/meekijken');
        } catch (err) { stopError.textContent = err.message; }
      },
    }, `Stop het meekijken van ${f.name}`));
  main.append(h('p', { class: 'lead' }, `${f.name} is je ${f.role_label.toLowerCase()}.`), form, stop);
}

export async function log(main) {
  const heading = h('h1', {}, 'Wie heeft wat bekeken?');
  main.append(heading);
  if (!await needAccount(main, heading)) return;
  const entries = await get('/api/me/audit');
  if (!heading.isConnected) return;
  main.append(h('p', { class: 'lead' }, 'Hier zie je wie wat van jou heeft bekeken. Niemand kan dit veranderen.'));
  if (!entries.length) { main.append(h('p', {}, 'Nog niemand heeft iets bekeken.')); return; }
  main.append(h('ul', { class: 'cards' }, entries.map((e) => h('li', { class: 'card' },
    h('p', {}, h('strong', {}, e.actor_name), ' ', e.what),
    h('p', { class: 'meta' }, new Date(e.created_at).toLocaleString('nl-NL', { dateStyle: 'long', timeStyle: 'short' }))))));
}
