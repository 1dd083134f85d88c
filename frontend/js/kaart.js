// Sociale kaart pieces shared by Hulp in de buurt, the service page, a step's "Hulp hierbij" and beheer:
// the query string, "nu open" in words, distance, and a result card. Texts from the kaart are always text.
import { h, add } from './dom.js';
import { get } from './api.js';
import { navigate } from './router.js';
import { getProfile, recall, remember } from './store.js';
import { dateNl, dayDiff, stamp, ageOn, todayIso } from './fmt.js';

// Short names for the filter buttons (the full ones are in the content, such as "Inkomen & schulden").
export const LEEFGEBIEDEN = [
  ['wonen', 'Wonen'], ['gezondheid', 'Gezondheid'], ['school-werk', 'School & werk'],
  ['inkomen', 'Geld'], ['relaties', 'Relaties'], ['papieren', 'Papieren'],
];
const DAYS = ['zondag', 'maandag', 'dinsdag', 'woensdag', 'donderdag', 'vrijdag', 'zaterdag'];

/** {a: 1, b: [2, 3]} -> "a=1&b=2&b=3" (empty values left out). */
export function query(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of [].concat(v)) if (x !== undefined && x !== null && x !== '' && x !== false) qs.append(k, x);
  }
  return qs.toString();
}

/** Today in Amsterdam, "YYYY-MM-DD" (the API's times are Amsterdam times). */
const amsToday = (now) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Amsterdam' }).format(now);

/** "2026-03-02T09:00:00+01:00" -> "om 9:00", "morgen om 9:00", "op dinsdag om 13:00". */
function at(iso, now, today = '') {
  const time = iso.slice(11, 16).replace(/^0(?=\d)/, '');
  const days = dayDiff(amsToday(now), iso.slice(0, 10));
  if (time === '0:00' && days === 1) return 'om middernacht';
  const day = days === 0 ? today : days === 1 ? 'morgen ' : days < 7 ? `op ${DAYS[new Date(iso.slice(0, 10) + 'T12:00:00Z').getUTCDay()]} `
    : `op ${dateNl(iso).replace(/ \d{4}$/, '')} `;
  return `${day}om ${time}`;
}

/** "Nu open · sluit om 17:00", "Gesloten · open morgen om 9:00", "Dag en nacht open", or null (unknown).
 * Also right for an older (offline) answer: a time that has passed means "we don't know". */
export function openLine(r, now = Date.now()) {
  if (!r.has_hours) return r.by_appointment ? { text: 'Op afspraak' } : null;
  if (r.is_open) {
    if (!r.closes_at) return { open: true, text: 'Dag en nacht open' };
    return stamp(r.closes_at) > now ? { open: true, text: `Nu open · sluit ${at(r.closes_at, now)}` } : null;
  }
  if (r.next_open) return stamp(r.next_open) > now ? { text: `Gesloten · open ${at(r.next_open, now, 'vandaag ')}` } : null;
  return { text: r.by_appointment ? 'Op afspraak' : 'Nu gesloten' };
}

/** "± 2,1 km" */
export function distance(km) {
  if (km === null || km === undefined) return null;
  return km < 1 ? 'minder dan 1 km' : `± ${km.toFixed(1).replace('.', ',')} km`;
}

/** One result as a list item; the name links to the service page (the whole card is the tap target). */
export function card(r, href) {
  const line = openLine(r);
  const far = distance(r.distance_km);
  return h('li', { class: 'svc' },
    h('h3', {}, h('a', { href }, r.name)),
    r.what ? h('p', {}, r.what) : null,
    h('p', { class: 'meta' }, r.organization, r.plaats && !r.national ? ` · ${r.plaats}` : null),
    line ? h('p', { class: line.open ? 'open-line is-open' : 'open-line' }, line.text) : null,
    r.free || r.national || far ? h('p', { class: 'badges' },
      r.free ? h('span', { class: 'badge' }, 'Gratis') : null,
      r.national ? h('span', { class: 'badge' }, 'Landelijk') : null,
      far ? h('span', { class: 'badge' }, far) : null) : null);
}

/** "1 resultaat", "12 resultaten". */
export const count = (n) => (n === 1 ? '1 resultaat' : `${n} resultaten`);

/** The gemeente for Hulp in de buurt: one chosen on this screen, else the profile's. {code, naam} or null. */
export async function place() {
  const [profile, chosen] = await Promise.all([getProfile(), recall('hulp_gemeente')]);
  const mine = profile ? profile.gemeente_code : null;
  if (chosen && chosen.for === mine) return chosen; // chosen here, and the profile did not change since
  return mine ? { code: mine, naam: profile.gemeente_naam || mine } : null;
}

export const choosePlace = async (g) => {
  const profile = await getProfile();
  await remember('hulp_gemeente', { code: g.code, naam: g.weergavenaam || g.naam, for: profile ? profile.gemeente_code : null });
};

/** "Hulp hierbij" on a step page: up to 3 services for the step's topics; hidden otherwise.
 * step.gemeente "future": in the gemeente where you will live, if known. */
export async function stepHelp(box, step) {
  const profile = await getProfile();
  const future = step.gemeente === 'future' && profile && profile.future_gemeente_code;
  const gm = future || (profile && profile.gemeente_code);
  if (!gm || !(step.topics || []).length) return;
  const key = `hulp_stap:${gm}:${step.id}`;
  const qs = query({ topic: step.topics, leeftijd: profile.birth_date ? ageOn(profile.birth_date, todayIso()) : null, per_page: 3 });
  let data;
  try {
    data = await get(`/api/kaart/${encodeURIComponent(gm)}/services?${qs}`);
    remember(key, data).catch(() => {});
  } catch (err) {
    if (err.status !== 0) return;
    data = await recall(key); // offline: the last answer, if there is one
  }
  if (!data || !data.results.length || !box.isConnected) return;
  const all = '/hulp?' + query({ topic: step.topics });
  box.setAttribute('aria-labelledby', 's-hulp');
  box.replaceChildren();
  add(box,
    h('h2', { id: 's-hulp' }, future ? 'Hulp hierbij in je nieuwe gemeente' : 'Hulp hierbij in jouw gemeente'),
    future ? h('p', {}, `Dit is hulp in ${profile.future_gemeente_naam || gm}. Daar ga je wonen.`) : null,
    h('ul', { class: 'cards' }, data.results.map((r) => card(r, `/hulp/${gm}/${r.id}`))),
    h('p', {}, h('a', {
      href: all,
      onclick: future ? async (e) => {
        e.preventDefault();
        await choosePlace({ code: gm, naam: profile.future_gemeente_naam || gm });
        navigate(all);
      } : null,
    }, 'Bekijk alle hulp hierbij')));
  box.hidden = false;
}
