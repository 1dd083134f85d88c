// Beheer van de sociale kaart, for gemeente editors and admins (made for a laptop, also works on a phone):
// upload a file and see its errors per row, preview a version, publish or roll back, download, and handle
// "Klopt dit niet?" reports.
//
// Deliberately outside js/: this module is not part of the phone app's shell. The service worker does not
// precache it, so jongeren never download it; editors use it online.
import { h, add } from '../js/dom.js';
import { get, post, del, clearOfflineCache } from '../js/api.js';
import { field, formError, showErrors, clearErrors, onSubmit } from '../js/form.js';
import { dateNl } from '../js/fmt.js';
import { account } from '../js/store.js';
import { navigate } from '../js/router.js';
import { card } from '../js/kaart.js';
import { detail } from '../js/screens/dienst.js';

const CSS = '/beheer/beheer.css';
const base = (k) => '/api/beheer/kaart/' + encodeURIComponent(k);
const EXPORTS = [
  ['csv', 'CSV (met komma\'s)'], ['excel-csv', 'CSV voor Excel (met puntkomma\'s)'],
  ['hsds', 'HSDS 3.0 (JSON)'], ['datapackage', 'HSDS-datapakket (zip)'],
];

function state(v) {
  if (v.current) return 'Online';
  if (v.status === 'draft') return 'Concept';
  return v.published_at ? 'Eerder online' : 'Archief';
}

/** A table that may scroll sideways on a small screen (a focusable region, so it scrolls by keyboard too). */
function table(label, head, rows, cls) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' },
    h('table', { class: cls || null },
      h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c)))))));
}

function issuesTable(report) {
  const rows = report.issues.map((i) => [
    i.level === 'error' ? h('strong', { class: 'fout' }, 'Fout') : 'Let op',
    i.row ? String(i.row) : '–', i.column || '–', i.message]);
  return [
    h('p', {}, report.summary),
    rows.length ? table('Wat er in het bestand moet veranderen', ['Soort', 'Rij', 'Kolom', 'Wat is er mis?'], rows, 'issues') : null,
    report.truncated ? h('p', {}, 'Er zijn nog meer meldingen. Verbeter eerst deze en upload het bestand opnieuw.') : null,
  ];
}

// --- logging in ----------------------------------------------------------------------------------------

function login(main, heading) {
  heading.textContent = 'Inloggen voor beheer';
  const form = h('form', { novalidate: true },
    field({ name: 'username', label: 'Gebruikersnaam', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }).wrap,
    field({ name: 'password', label: 'Wachtwoord', type: 'password', autocomplete: 'current-password' }).wrap,
    formError(), h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Inloggen')));
  onSubmit(form, async () => {
    clearErrors(form);
    const v = Object.fromEntries(new FormData(form));
    try {
      await post('/api/session', { username: v.username, password: v.password });
      navigate(location.pathname, { replace: true });
    } catch (err) {
      showErrors(form, err);
    }
  });
  main.append(h('p', { class: 'lead' }, 'Hier beheer je de sociale kaart van je gemeente. Log in met je account als redacteur.'), form);
}

async function noAccess(main, heading) {
  heading.textContent = 'Geen toegang tot beheer';
  const me = await account();
  add(main,
    h('p', {}, 'Met dit account kun je de sociale kaart niet beheren. Daarvoor heb je een account als redacteur nodig. Dat krijg je van de beheerder van Startklaar.'),
    me ? h('p', {}, `Je bent op dit apparaat ingelogd als ${me.username}. Log eerst uit bij `, h('a', { href: '/ik' }, 'Ik'), '.')
      : h('p', {}, h('button', { type: 'button', class: 'btn btn-secondary', onclick: logout }, 'Uitloggen')));
}

async function logout() {
  try { await del('/api/session'); } catch { /* already logged out */ }
  await clearOfflineCache();
  navigate('/beheer', { replace: true });
}

// --- the kaarten you may edit --------------------------------------------------------------------------

function live(k) {
  return k.current_version_id
    ? `Online: versie ${k.current_version_id}, sinds ${dateNl(k.published_at)}. ${k.service_count} diensten.`
    : 'Nog niets online. Jongeren zien alleen de landelijke hulp.';
}

function overview(main, list) {
  add(main,
    h('p', { class: 'lead' }, list.length ? 'Kies de kaart die je wilt bijwerken.' : 'Je beheert nog geen kaart. Vraag de beheerder van Startklaar om je aan je gemeente te koppelen.'),
    h('ul', { class: 'cards' }, list.map((k) => h('li', { class: 'svc' },
      h('h2', {}, h('a', { href: '/beheer/' + encodeURIComponent(k.kaart) }, k.naam)),
      h('p', {}, live(k)),
      h('p', { class: k.open_corrections ? 'open-line is-open' : 'meta' },
        k.open_corrections === 1 ? '1 melding open' : `${k.open_corrections} meldingen open`)))),
    h('p', {}, h('button', { type: 'button', class: 'btn btn-secondary', onclick: logout }, 'Uitloggen')));
}

// --- one kaart: upload, versions, reports, download ------------------------------------------------------

function kaartPage(main, heading, k, many) {
  heading.textContent = 'Sociale kaart ' + k.naam;
  const msg = h('p', { role: 'status' });
  const now = h('p', {}, live(k));
  const versions = h('div', {}, h('p', {}, 'Versies laden…'));
  const reports = h('div', {}, h('p', {}, 'Meldingen laden…'));

  async function refresh() {
    const [vs, list] = await Promise.all([get(base(k.kaart) + '/versions'), get('/api/beheer/kaarten')]);
    const fresh = list.find((x) => x.kaart === k.kaart);
    if (fresh) { Object.assign(k, fresh); now.textContent = live(k); }
    versions.replaceChildren(vs.length ? table('Tabel met versies', ['Versie', 'Staat', 'Geüpload', 'Diensten', 'Doen'], vs.map((v) => [
      String(v.id), state(v),
      `${dateNl(v.created_at)} door ${v.created_by}${v.source_filename ? ` (${v.source_filename})` : ''}`,
      String(v.service_count),
      h('div', { class: 'actions' },
        h('a', { href: `/beheer/${encodeURIComponent(k.kaart)}/${v.id}` }, `Bekijk versie ${v.id}`),
        v.current ? null : h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => golive(v) },
          v.status === 'draft' ? `Publiceer versie ${v.id}` : `Zet versie ${v.id} terug`)),
    ]), 'versions') : h('p', {}, 'Nog geen versies. Upload hierboven je eerste bestand.'));
  }

  async function golive(v) {
    try {
      if (v.status === 'draft') await post(`${base(k.kaart)}/versions/${v.id}/publish`);
      else await post(base(k.kaart) + '/rollback', { version_id: v.id });
      msg.textContent = `Versie ${v.id} staat nu online. Jongeren zien hem meteen.`;
      await refresh();
    } catch (err) {
      msg.textContent = err.message;
    }
  }

  // Upload
  const file = field({ name: 'file', label: 'Bestand', type: 'file', hint: 'CSV, Excel (.xlsx), HSDS-JSON of een HSDS-datapakket (.zip). Tot een paar MB.', accept: '.csv,.txt,.xlsx,.json,.zip' });
  const result = h('div', { class: 'upload-result', tabindex: '-1' });
  const form = h('form', { novalidate: true }, file.wrap, formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Uploaden en controleren')));
  onSubmit(form, async () => {
    clearErrors(form);
    result.replaceChildren();
    const chosen = file.input.files[0];
    if (!chosen) { showErrors(form, { fields: { file: 'Kies eerst een bestand.' } }); return; }
    const body = new FormData();
    body.append('file', chosen);
    try {
      const res = await post(base(k.kaart) + '/uploads', body);
      const v = res.version;
      add(result,
        h('h3', {}, res.created ? 'Het bestand is goed' : 'Dit bestand had je al geüpload'),
        h('p', {}, res.created ? `Versie ${v.id} is klaar als concept, met ${v.service_count} diensten. Jongeren zien hem pas als je hem publiceert.`
          : `Het is versie ${v.id} (${state(v).toLowerCase()}).`),
        h('p', {}, h('a', { class: 'btn', href: `/beheer/${encodeURIComponent(k.kaart)}/${v.id}` }, `Bekijk en publiceer versie ${v.id}`)),
        res.report.warnings ? issuesTable(res.report) : null);
      form.reset();
      await refresh();
    } catch (err) {
      if (err.status === 422 && err.body && err.body.report) {
        add(result, h('h3', { class: 'error' }, 'Het bestand heeft fouten'), h('p', {}, err.message), issuesTable(err.body.report));
      } else {
        showErrors(form, err.status === 0 ? { message: 'Uploaden lukt nu niet. Heb je internet?' } : err);
        return;
      }
    }
    result.focus();
  });

  // "Klopt dit niet?" reports
  async function loadReports() {
    const rows = await get(base(k.kaart) + '/corrections', { params: { status: 'open' } });
    reports.replaceChildren(rows.length ? h('ul', { class: 'cards' }, rows.map((c) => {
      const why = field({ name: 'resolution-' + c.id, label: 'Wat heb je gedaan? (mag leeg blijven)', maxlength: 1000 });
      const item = h('li', { class: 'card' },
        h('h3', {}, c.service_name),
        h('p', { class: 'meta' }, `Gemeld op ${dateNl(c.created_at)}`, c.seen_in !== c.kaart ? ` (gezien in ${c.seen_in})` : ''),
        h('p', { class: 'text' }, c.message),
        c.contact ? h('p', {}, 'Contact: ', c.contact) : null,
        h('p', {}, h('a', { href: `/hulp/${encodeURIComponent(c.seen_in)}/${encodeURIComponent(c.service_id)}` }, 'Bekijk de dienst')));
      const f = h('form', { novalidate: true }, why.wrap, formError(),
        h('div', { class: 'actions' }, h('button', { class: 'btn btn-secondary', type: 'submit' }, 'Afgehandeld')));
      onSubmit(f, async () => {
        try {
          await post(`${base(k.kaart)}/corrections/${c.id}/resolve`, { resolution: why.input.value.trim() || null });
          const ul = item.parentNode;
          item.remove();
          if (!ul.children.length) ul.replaceWith(h('p', {}, 'Geen open meldingen.'));
          msg.textContent = `De melding over ${c.service_name} is afgehandeld.`;
          heading.focus();
        } catch (err) { showErrors(f, err); }
      });
      item.append(f);
      return item;
    })) : h('p', {}, 'Geen open meldingen.'));
  }

  add(main,
    many ? h('p', {}, h('a', { href: '/beheer' }, 'Alle kaarten')) : null,
    now, msg,
    h('section', { 'aria-labelledby': 'b-upload' }, h('h2', { id: 'b-upload' }, 'Nieuw bestand uploaden'),
      h('p', {}, 'We controleren het bestand eerst. Met fouten verandert er niets. Zonder fouten wordt het een concept: dat kun je bekijken en daarna publiceren.'),
      form, result),
    h('section', { 'aria-labelledby': 'b-versies' }, h('h2', { id: 'b-versies' }, 'Versies'), versions),
    h('section', { 'aria-labelledby': 'b-meldingen' }, h('h2', { id: 'b-meldingen' }, 'Meldingen: Klopt dit niet?'), reports),
    h('section', { 'aria-labelledby': 'b-download' }, h('h2', { id: 'b-download' }, 'Downloaden'),
      k.current_version_id ? h('ul', {}, EXPORTS.map(([f, label]) => h('li', {},
        h('a', { href: `${base(k.kaart)}/export?format=${f}`, download: '' }, label)))) : h('p', {}, 'Er staat nog niets online om te downloaden.'),
      h('p', { class: 'muted' }, 'Je downloadt de versie die nu online staat.')),
    h('p', {}, h('button', { type: 'button', class: 'btn btn-secondary', onclick: logout }, 'Uitloggen')));
  return Promise.all([refresh(), loadReports()]).catch((err) => { msg.textContent = err.message; });
}

// --- preview of a version ----------------------------------------------------------------------------------

async function preview(main, heading, k, id) {
  heading.textContent = `Voorbeeld van versie ${id}`;
  const back = h('p', {}, h('a', { href: '/beheer/' + encodeURIComponent(k.kaart) }, 'Terug naar sociale kaart ' + k.naam));
  main.append(back);
  const { version: v, results } = await get(`${base(k.kaart)}/versions/${encodeURIComponent(id)}/services`);
  const msg = h('p', { role: 'status' });
  const act = v.current ? null : h('button', {
    type: 'button', class: 'btn',
    onclick: async () => {
      try {
        if (v.status === 'draft') await post(`${base(k.kaart)}/versions/${v.id}/publish`);
        else await post(base(k.kaart) + '/rollback', { version_id: v.id });
        act.remove();
        stateLine.textContent = `Staat: online. ${v.service_count} diensten.`;
        msg.textContent = `Versie ${v.id} staat nu online. Jongeren zien hem meteen.`;
      } catch (err) { msg.textContent = err.message; }
    },
  }, v.status === 'draft' ? 'Publiceer deze versie' : 'Zet deze versie terug');
  const stateLine = h('p', {}, `Staat: ${state(v).toLowerCase()}. ${v.service_count} diensten. Geüpload op ${dateNl(v.created_at)} door ${v.created_by}.`);
  add(main, stateLine, act ? h('div', { class: 'actions' }, act) : null, msg,
    h('p', { class: 'notice' }, `Zo zien jongeren de diensten van ${k.naam} in deze versie. De landelijke hulp staat er niet bij.`),
    h('h2', {}, results.length === 1 ? '1 dienst' : `${results.length} diensten`),
    h('ul', { class: 'cards' }, results.map((r) => card(r, `/beheer/${encodeURIComponent(k.kaart)}/${v.id}/${encodeURIComponent(r.id)}`))));
}

async function servicePreview(main, heading, k, id, sid) {
  const s = await get(`${base(k.kaart)}/versions/${encodeURIComponent(id)}/services/${encodeURIComponent(sid)}`);
  heading.before(h('p', { class: 'kicker' }, `Voorbeeld van versie ${id}`));
  detail(main, s, { correct: false, back: [`/beheer/${encodeURIComponent(k.kaart)}/${id}`, `Terug naar versie ${id}`] });
}

export async function render(main, { kaart, versie, dienst }) {
  if (!document.querySelector(`link[href="${CSS}"]`)) document.head.append(h('link', { rel: 'stylesheet', href: CSS }));
  main.classList.add('wide');
  const done = () => main.classList.remove('wide');
  const heading = h('h1', {}, 'Beheer sociale kaart');
  main.append(heading);
  try {
    const list = await get('/api/beheer/kaarten');
    if (!heading.isConnected) return done();
    if (!kaart && list.length === 1) { done(); navigate('/beheer/' + encodeURIComponent(list[0].kaart), { replace: true }); return undefined; }
    if (!kaart) { overview(main, list); return done; }
    const k = list.find((x) => x.kaart.toLowerCase() === kaart.toLowerCase());
    if (!k) {
      heading.textContent = 'Deze kaart beheer je niet';
      main.append(h('p', {}, h('a', { href: '/beheer' }, 'Naar je kaarten')));
    } else if (!versie) await kaartPage(main, heading, k, list.length > 1);
    else if (!dienst) await preview(main, heading, k, versie);
    else await servicePreview(main, heading, k, versie, dienst);
  } catch (err) {
    if (!heading.isConnected) return done();
    if (err.status === 401) login(main, heading);
    else if (err.status === 403) await noAccess(main, heading);
    else {
      heading.textContent = err.status === 404 ? 'Dit kunnen we niet vinden' : 'Dit lukt nu niet';
      main.append(h('p', {}, err.status === 0 ? 'Heb je internet? Probeer het later nog een keer.' : err.message),
        h('p', {}, h('a', { href: '/beheer' }, 'Naar beheer')));
    }
  }
  if (!heading.isConnected) return done();
  return done;
}
