// One service of the sociale kaart: what, for whom, cost, how to apply, opening hours, big buttons to call,
// app, plan a route, and "Klopt dit niet?". Every text from the kaart is shown as text, never as HTML.
import { h, add } from '../dom.js';
import { get, post } from '../api.js';
import { field, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { recall } from '../store.js';
import { dateNl } from '../fmt.js';
import { openLine, distance } from '../kaart.js';

const NEW_TAB = h('span', { class: 'vh' }, ' (opent in een nieuw tabblad)');
const newTab = () => NEW_TAB.cloneNode(true);

function section(id, title, ...body) {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

const slots = (list) => list.map((x) => x.replace(/-/, ' – ').replace(/(^|\s)0(\d)/g, '$1$2')).join(' en ');

/** Opening hours for the coming 7 days (holidays and exceptions worked in), today marked. */
function hoursTable(hrs, caption) {
  if (!hrs) return null;
  if (hrs.always_open) return h('p', { class: 'open-line is-open' }, 'Dag en nacht open.');
  const today = hrs.next_days[0] && hrs.next_days[0].date;
  return [
    h('table', { class: 'hours' }, h('caption', {}, caption),
      h('tbody', {}, hrs.next_days.map((d) => h('tr', { class: d.date === today ? 'today' : null },
        h('th', { scope: 'row' }, d.date === today ? 'Vandaag' : d.name, h('span', { class: 'date' }, ' ' + dateNl(d.date).replace(/ \d{4}$/, ''))),
        h('td', {}, d.slots.length ? slots(d.slots) : 'Gesloten', d.note && d.note !== 'Gesloten' ? h('span', { class: 'date' }, ' ' + d.note) : null))))),
    hrs.by_appointment ? h('p', {}, 'Alleen op afspraak.') : null,
    hrs.closed_on_holidays ? h('p', { class: 'muted' }, 'Op feestdagen gesloten.') : null,
  ];
}

function phoneLinks(phones, whatsapp) {
  return [
    ...phones.map((p) => h('a', { class: 'btn', href: p.tel }, 'Bel ' + p.number)),
    ...whatsapp.filter((w) => w.url).map((w) => h('a', { class: 'btn btn-secondary', href: w.url, target: '_blank', rel: 'noopener noreferrer' }, 'WhatsApp ' + w.number, newTab())),
  ];
}

function location(loc, n, many) {
  const id = 'loc-' + n;
  const far = distance(loc.distance_km);
  const line = openLine(loc);
  return h('div', { class: 'card' },
    h('h3', { id }, loc.name || (loc.address ? loc.address.one_line : 'Locatie')),
    loc.address ? h('p', {}, loc.address.one_line, far ? h('span', { class: 'muted' }, ` (${far})`) : null) : null,
    line && many ? h('p', { class: line.open ? 'open-line is-open' : 'open-line' }, line.text) : null,
    many ? h('div', { class: 'actions' }, phoneLinks(loc.phones, loc.whatsapp),
      loc.route_url ? h('a', { class: 'btn btn-secondary', href: loc.route_url, target: '_blank', rel: 'noopener noreferrer' }, 'Route', newTab()) : null) : null,
    hoursTable(loc.hours, 'Openingstijden'));
}

function correction(gm, s) {
  const msg = field({ name: 'message', label: 'Wat klopt er niet?', hint: 'Bijvoorbeeld: het telefoonnummer is anders.', tag: 'textarea', rows: 3, maxlength: 1000, required: true });
  const contact = field({ name: 'contact', label: 'Je e-mail of telefoon (mag leeg blijven)', hint: 'Alleen als je een antwoord wilt.', maxlength: 200, autocomplete: 'email' });
  const form = h('form', { novalidate: true }, msg.wrap, contact.wrap, formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Verstuur')));
  const done = h('p', { role: 'status' });
  onSubmit(form, async () => {
    clearErrors(form);
    const message = msg.input.value.trim();
    if (message.length < 3) { showErrors(form, { fields: { message: 'Schrijf kort wat er niet klopt.' } }); return; }
    try {
      const res = await post(`/api/kaart/${encodeURIComponent(gm)}/services/${encodeURIComponent(s.id)}/corrections`,
        { message, contact: contact.input.value.trim() || null });
      form.replaceWith(h('div', { class: 'notice' }, done));
      done.textContent = res.message;
    } catch (err) {
      showErrors(form, err.status === 0 ? { message: 'Versturen lukt nu niet. Heb je internet? Probeer het later nog een keer.' } : err);
    }
  });
  return h('details', { class: 'correct' }, h('summary', {}, 'Klopt dit niet?'),
    h('p', {}, 'Laat het ons weten. De mensen die deze lijst bijhouden, kijken ernaar.'), form, done);
}

/** The page for one service (also used by beheer for a preview, without "Klopt dit niet?"). */
export function detail(main, s, { gm, back, correct = true } = {}) {
  const line = openLine(s);
  const locs = s.locations || [];
  const phones = [...s.phones];
  const wa = [...s.whatsapp];
  if (locs.length === 1) {
    phones.push(...locs[0].phones.filter((p) => !phones.some((x) => x.tel === p.tel)));
    wa.push(...locs[0].whatsapp.filter((w) => !wa.some((x) => x.url === w.url)));
  }
  const route = locs.length === 1 && locs[0].route_url;
  const age = s.minimum_age && s.maximum_age ? `Van ${s.minimum_age} tot en met ${s.maximum_age} jaar.`
    : s.minimum_age ? `Vanaf ${s.minimum_age} jaar.` : s.maximum_age ? `Tot en met ${s.maximum_age} jaar.` : null;
  const buttons = [
    ...phoneLinks(phones, wa),
    route ? h('a', { class: 'btn btn-secondary', href: route, target: '_blank', rel: 'noopener noreferrer' }, 'Route', newTab()) : null,
    s.website ? h('a', { class: 'btn btn-secondary', href: s.website, target: '_blank', rel: 'noopener noreferrer' }, 'Website', newTab()) : null,
    s.email_url ? h('a', { class: 'btn btn-secondary', href: s.email_url }, 'E-mail') : null,
  ].filter(Boolean);
  const text = s.description || '';
  const more = (text.startsWith(s.what) ? text.slice(s.what.length) : text).trim();
  const heading = main.querySelector('h1');
  heading.textContent = s.name;
  add(main,
    s.alert ? h('p', { class: 'alert' }, h('strong', {}, 'Let op: '), s.alert) : null,
    h('p', { class: 'meta' }, s.organization),
    line || s.free || s.national ? h('p', { class: 'badges' },
      line ? h('span', { class: line.open ? 'open-line is-open' : 'open-line' }, line.text) : null,
      s.free ? h('span', { class: 'badge' }, 'Gratis') : null,
      s.national ? h('span', { class: 'badge' }, 'Landelijk') : null) : null,
    h('p', { class: 'lead' }, s.what),
    buttons.length ? h('div', { class: 'actions contact' }, buttons) : null,
    route || s.website || wa.some((w) => w.url) ? h('p', { class: 'muted' }, 'Route, website en WhatsApp openen in een nieuw tabblad.') : null,
    more ? section('d-wat', 'Meer uitleg', h('p', { class: 'text' }, more)) : null,
    s.for_whom || age ? section('d-wie', 'Voor wie?', h('p', { class: 'text' }, s.for_whom || age)) : null,
    section('d-kosten', 'Wat kost het?', h('p', { class: 'text' }, s.cost || (s.free ? 'Gratis.' : 'Dat staat er niet bij. Vraag het als je belt.'))),
    s.how_to_apply ? section('d-aanmelden', 'Zo meld je je aan', h('p', { class: 'text' }, s.how_to_apply)) : null,
    s.hours ? section('d-tijden', 'Wanneer kun je bellen?', hoursTable(s.hours, 'Bereikbaar')) : null,
    locs.length ? section('d-waar', locs.length === 1 ? 'Waar?' : 'Waar? Je kunt op meer plekken terecht.',
      locs.map((l, n) => location(l, n, locs.length > 1))) : null,
    h('footer', { class: 'source' },
      s.checked_on ? h('p', {}, `Gecontroleerd op ${dateNl(s.checked_on)}.`) : null,
      correct ? correction(gm, s) : null),
    back ? h('p', {}, h('a', { href: back[0] }, back[1])) : null,
  );
}

export async function render(main, { gm, id }) {
  const heading = h('h1', {}, 'Hulp');
  main.append(heading);
  const postcode = await recall('hulp_postcode').catch(() => null);
  let s;
  try {
    s = await get(`/api/kaart/${encodeURIComponent(gm)}/services/${encodeURIComponent(id)}`, { params: { postcode: postcode || undefined } });
  } catch (err) {
    if (!heading.isConnected) return;
    heading.textContent = err.status === 404 ? 'Deze hulp kunnen we niet vinden' : 'Deze hulp kan nu niet laden';
    main.append(h('p', {}, err.status === 0 ? 'Je bent offline. Probeer het later nog een keer.' : err.message),
      h('p', {}, h('a', { href: '/hulp' }, 'Naar Hulp in de buurt')));
    return;
  }
  if (!heading.isConnected) return;
  detail(main, s, { gm, back: ['/hulp', 'Terug naar Hulp in de buurt'] });
}
