// Herinneringen under Ik: what they are, turn them on or off on this phone (permission is asked only after
// the tap), quiet hours, pause and topics (/ik/herinneringen/instellen), and the inbox (/ik/berichten).
import { h, setFlash, takeFlash } from '../dom.js';
import { navigate } from '../router.js';
import { get, post, put, del } from '../api.js';
import { account } from '../store.js';
import { dateNl, todayIso } from '../fmt.js';
import { field, radios, formError, showErrors, clearErrors, onSubmit } from '../form.js';

const PREFS = '/api/me/reminder-preferences';
const SUBS = '/api/me/push-subscriptions';
const PAGE = '/ik/herinneringen';
const nav = () => navigator.serviceWorker;
const pushable = () => !!nav() && 'PushManager' in window && 'Notification' in window;
const iPhone = () => /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
const installed = () => navigator.standalone === true || matchMedia('(display-mode: standalone)').matches;
const btn = (text, onclick, cls = 'btn') => h('button', { type: 'button', class: cls, onclick }, text);
const list = (tag, items) => h(tag, {}, items.map((t) => h('li', {}, t)));
const noNet = (err) => (err.status === 0 ? 'Je hebt nu geen internet. Probeer het later nog een keer.' : err.message);
const weekLater = () => todayIso(new Date(Date.now() + 7 * 864e5));
const saveBody = (p, change = {}) => ({
  push_enabled: p.push_enabled, quiet_start: p.quiet_start, quiet_end: p.quiet_end,
  paused_until: p.paused_until, leefgebieden: p.leefgebieden, ...change,
});

function keyBytes(b64) {
  const s = atob(b64.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function thisPhone() {
  const reg = pushable() && await nav().getRegistration();
  return reg ? reg.pushManager.getSubscription() : null;
}

/** Ask permission (only from a tap), subscribe this phone and tell the server. Returns the permission. */
async function turnOn(prefs) {
  const perm = await Notification.requestPermission();
  if (perm !== 'granted') return perm;
  const reg = await Promise.race([nav().ready, new Promise((_, no) => setTimeout(() => no(new Error('sw')), 10000))]);
  const opts = { userVisibleOnly: true, applicationServerKey: keyBytes((await get('/api/push/public-key')).public_key) };
  let sub;
  try {
    sub = await reg.pushManager.subscribe(opts);
  } catch (err) { // an old subscription made with another server key: start again
    const old = await reg.pushManager.getSubscription();
    if (!old) throw err;
    await old.unsubscribe();
    sub = await reg.pushManager.subscribe(opts);
  }
  try { await post(SUBS, sub.toJSON()); } catch (err) { await sub.unsubscribe(); throw err; } // no half-on state
  if (!prefs.push_enabled) await put(PREFS, saveBody(prefs, { push_enabled: true }));
  return perm;
}

/** Stop pushes on this phone only; the server forgets it first (that needs internet). */
async function turnOff() {
  const sub = await thisPhone();
  if (!sub) return;
  await del(SUBS, { body: { endpoint: sub.endpoint } });
  await sub.unsubscribe();
}

function needAccount(main) {
  main.append(h('p', { class: 'notice' }, 'Voor herinneringen heb je een account nodig. Dan weten we welke stappen bij jou horen.'),
    h('div', { class: 'actions' }, h('a', { class: 'btn', href: '/ik/account' }, 'Maak een account'),
      h('a', { class: 'btn btn-secondary', href: '/ik/inloggen' }, 'Inloggen')));
}

/** Loads what the screen needs; shows a message instead when that fails. */
async function load(main, heading, path) {
  if (!(await account())) { if (heading.isConnected) needAccount(main); return null; }
  try { return await get(path); } catch (err) {
    if (heading.isConnected) main.append(h('p', { class: 'form-error', role: 'alert' }, noNet(err)));
    return null;
  }
}

const howToAllow = () => [
  h('p', {}, 'Je hebt meldingen van Startklaar geblokkeerd. Zo zet je ze weer aan:'),
  list('ul', [
    'Android: tik naast het webadres op het slotje. Kies Meldingen en dan Toestaan.',
    'Staat Startklaar op je beginscherm? Houd het icoon vast. Tik op App-info en dan op Meldingen. Zet ze aan.',
    'iPhone: open Instellingen. Tik op Meldingen en dan op Startklaar. Zet Sta meldingen toe aan.',
  ]),
  h('p', {}, 'Kom daarna terug. Tik dan op Zet herinneringen aan.'),
];

const homeScreen = () => [
  h('h3', {}, 'Zet Startklaar eerst op je beginscherm'),
  h('p', {}, 'Op een iPhone krijg je alleen herinneringen als Startklaar op je beginscherm staat. Zo doe je dat:'),
  list('ol', [
    'Open Startklaar in Safari.',
    'Tik onderaan op Delen. Dat is het vierkantje met een pijl omhoog.',
    'Kies Zet op beginscherm. Tik dan op Voeg toe.',
    'Open Startklaar vanaf je beginscherm. Ga naar Ik en dan naar Herinneringen.',
  ]),
  h('p', {}, 'Je hebt iOS 16.4 of nieuwer nodig.'),
];

export async function render(main) {
  const flash = takeFlash();
  const heading = h('h1', {}, 'Herinneringen');
  main.append(heading,
    h('p', { class: 'lead' }, 'Wil je een seintje als er een stap voor je klaarstaat? Dan krijg je een kort bericht op je telefoon.'),
    h('p', {}, 'Bijvoorbeeld: “Kies je zorgverzekering.” Tik op het bericht. Dan zie je meteen wat je moet doen.'),
    list('ul', ['Je naam en je geboortedatum staan er nooit in.', 'We sturen niets in de nacht.', 'Je kunt ze altijd weer uitzetten.']));
  let prefs = await load(main, heading, PREFS);
  if (!prefs || !heading.isConnected) return;
  const box = await get('/api/me/reminders', { params: { limit: 1 } }).catch(() => null);
  if (!heading.isConnected) return;
  if (flash) heading.after(h('p', { class: 'notice', role: 'status' }, flash));

  const said = h('p', { role: 'status' });
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const phone = h('div');
  const summary = h('div');
  main.append(
    h('section', { 'aria-labelledby': 'h-phone' }, h('h2', { id: 'h-phone' }, 'Op deze telefoon'), said, problem, phone),
    h('ul', { class: 'todos' }, h('li', {}, h('a', { class: 'todo', href: '/ik/berichten' },
      h('span', { class: 'todo-title' }, 'Je berichten'),
      box && h('span', { class: 'meta' }, !box.unread ? 'Geen nieuwe berichten' : box.unread === 1 ? '1 nieuw bericht' : `${box.unread} nieuwe berichten`)))),
    h('section', { 'aria-labelledby': 'h-when' }, h('h2', { id: 'h-when' }, 'Wanneer en waarover'), summary,
      h('p', {}, h('a', { class: 'btn btn-secondary', href: PAGE + '/instellen' }, 'Wijzig wanneer en waarover'))));

  let busy = false;
  const act = (fn) => async () => {
    if (busy) return;
    busy = true;
    problem.textContent = '';
    try { said.textContent = await fn(); } catch (err) {
      problem.textContent = err.name === 'ApiError' ? noNet(err) : 'Dit lukt nu niet op deze telefoon. Probeer het later nog een keer.';
    } finally { busy = false; }
    try { prefs = await get(PREFS); } catch { /* keep what we have */ }
    await paint();
    const b = phone.querySelector('button');
    if (b && heading.isConnected) b.focus();
  };

  async function paint() {
    const sub = pushable() ? await thisPhone() : null;
    const on = !!sub && prefs.devices > 0 && prefs.push_enabled && Notification.permission === 'granted';
    const others = prefs.devices - (sub ? 1 : 0);
    const kids = [];
    if (!pushable()) {
      kids.push(...(iPhone() && !installed() ? homeScreen()
        : [h('p', {}, 'Deze browser kan geen herinneringen laten zien.')]),
      h('p', {}, 'Je berichten staan wel altijd hier in de app, bij Je berichten.'));
    } else if (on) {
      kids.push(h('p', {}, h('strong', {}, 'Herinneringen staan aan op deze telefoon.')),
        h('div', { class: 'actions' }, btn('Zet herinneringen uit', act(async () => { await turnOff(); return 'Herinneringen staan nu uit op deze telefoon.'; }), 'btn btn-secondary')));
    } else {
      if (Notification.permission === 'denied') kids.push(...howToAllow());
      else kids.push(h('p', {}, 'Herinneringen staan uit op deze telefoon. Tik op de knop. Je telefoon vraagt dan of Startklaar meldingen mag sturen. Kies Toestaan.'));
      kids.push(h('div', { class: 'actions' }, btn('Zet herinneringen aan', act(async () => {
        const perm = await turnOn(prefs);
        if (perm === 'granted') return 'Herinneringen staan aan. Je krijgt een bericht als er een stap voor je klaarstaat.';
        return perm === 'denied' ? 'Je telefoon blokkeert meldingen van Startklaar.' : 'Je hebt nog niets gekozen. Tik nog een keer en kies Toestaan.';
      }))));
    }
    if (others > 0 && prefs.push_enabled) {
      kids.push(h('p', {}, others === 1 ? 'Op 1 ander apparaat staan herinneringen aan.' : `Op ${others} andere apparaten staan herinneringen aan.`),
        h('div', { class: 'actions' }, btn('Zet ze overal uit', act(async () => {
          await turnOff();
          prefs = await put(PREFS, saveBody(prefs, { push_enabled: false }));
          return 'Herinneringen staan nu overal uit.';
        }), 'btn btn-secondary')));
    }
    phone.replaceChildren(...kids);

    const chosen = prefs.options.filter((o) => prefs.leefgebieden.includes(o.id)).map((o) => o.label);
    summary.replaceChildren(list('ul', [
      prefs.quiet_start === prefs.quiet_end ? 'Berichten kunnen de hele dag komen.' : `Geen berichten tussen ${prefs.quiet_start} en ${prefs.quiet_end}.`,
      prefs.paused_until ? `Pauze tot en met ${dateNl(prefs.paused_until)}.` : 'Geen pauze.',
      chosen.length === prefs.options.length ? 'Over alle onderwerpen.' : 'Over: ' + (chosen.join(', ') || 'niets') + '.',
    ]));
  }
  await paint();
}

export async function settings(main) {
  const heading = h('h1', {}, 'Wanneer en waarover');
  main.append(heading);
  const prefs = await load(main, heading, PREFS);
  if (!prefs || !heading.isConnected) return;
  const week = weekLater();
  const paused = prefs.paused_until;
  const form = h('form', { novalidate: true });
  const when = field({ name: 'paused_until', label: 'Pauze tot en met', type: 'date', value: paused || week, min: todayIso() });
  const pause = radios({
    name: 'pauze', legend: 'Pauze', hint: 'In een pauze krijg je geen pushberichten. Je berichten in de app blijven komen.',
    options: [['geen', 'Geen pauze'], ['week', `Een week, tot en met ${dateNl(week)}`], ['datum', 'Tot een datum die ik kies']],
    value: !paused ? 'geen' : paused === week ? 'week' : 'datum',
  });
  const showDate = () => { when.wrap.hidden = form.elements.pauze.value !== 'datum'; };
  pause.addEventListener('change', showDate);
  form.append(
    h('fieldset', { 'aria-describedby': 'f-stil' }, h('legend', {}, 'Stille uren'),
      h('p', { class: 'hint', id: 'f-stil' }, 'In deze uren krijg je geen berichten. Ze komen daarna.'),
      field({ name: 'quiet_start', label: 'Geen berichten vanaf', type: 'time', value: prefs.quiet_start }).wrap,
      field({ name: 'quiet_end', label: 'Tot', type: 'time', value: prefs.quiet_end }).wrap),
    pause, when.wrap,
    h('fieldset', { class: 'field choices', 'data-field': 'leefgebieden', 'aria-describedby': 'f-lg-err' },
      h('legend', {}, 'Waarover wil je herinneringen?'),
      h('p', { class: 'field-error', id: 'f-lg-err', role: 'alert' }),
      prefs.options.map((o) => h('div', { class: 'choice' },
        h('input', { type: 'checkbox', name: 'leefgebieden', id: 'f-lg-' + o.id, value: o.id, checked: prefs.leefgebieden.includes(o.id) }),
        h('label', { for: 'f-lg-' + o.id }, o.label)))),
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Bewaar'),
      h('a', { class: 'btn btn-secondary', href: PAGE }, 'Terug')));
  showDate();
  onSubmit(form, async () => {
    clearErrors(form);
    const data = new FormData(form);
    const leefgebieden = data.getAll('leefgebieden');
    const choice = data.get('pauze');
    if (!leefgebieden.length) {
      showErrors(form, { fields: { leefgebieden: 'Kies minstens één onderwerp. Wil je geen herinneringen? Zet ze dan uit.' }, message: '' });
      form.querySelector('[name=leefgebieden]').focus();
      return;
    }
    if (choice === 'datum' && !data.get('paused_until')) {
      showErrors(form, { fields: { paused_until: 'Kies tot welke datum je pauze wilt.' }, message: '' });
      return;
    }
    try {
      await put(PREFS, saveBody(prefs, {
        quiet_start: data.get('quiet_start'), quiet_end: data.get('quiet_end'), leefgebieden,
        paused_until: choice === 'week' ? week : choice === 'datum' ? data.get('paused_until') : null,
      }));
    } catch (err) {
      showErrors(form, { fields: err.fields, message: noNet(err) });
      return;
    }
    setFlash('Je keuzes zijn bewaard.');
    navigate(PAGE);
  });
  main.append(form);
}

export async function inbox(main) {
  const heading = h('h1', {}, 'Je berichten');
  main.append(heading);
  // Reminders about steps, and messages from people who follow along (or, for them, nudges).
  const [box, msgs] = await Promise.all([load(main, heading, '/api/me/reminders'), get('/api/me/messages').catch(() => null)]);
  if (!box || !heading.isConnected) return;
  const messages = msgs ? msgs.items : [];
  const unread = box.unread + (msgs ? msgs.unread : 0);
  const goTo = (url, fallback) => navigate(/^\/(?!\/)/.test(url) && url !== '/ik/berichten' ? url : fallback);
  const open = (item) => async (e) => {
    e.preventDefault();
    try { await post(`/api/me/reminders/${item.id}/read`); } catch { /* offline: it stays new */ }
    goTo(item.url, '/stappen');
  };
  const openMessage = (m) => async (e) => {
    e.preventDefault();
    try { await post(`/api/me/messages/${m.id}/read`); } catch { /* offline: it stays new */ }
    goTo(m.url, '/ik/berichten');
  };
  const rows = [
    ...box.items.map((item) => [item.due_at, h('li', {},
      h('a', { class: 'todo', href: item.url, onclick: open(item) },
        h('span', { class: 'todo-title' }, item.body),
        h('span', { class: 'meta' }, (item.read ? '' : 'Nieuw · ') + dateNl(item.due_at))))]),
    ...messages.map((m) => [m.created_at, h('li', {},
      h('a', { class: 'todo', href: m.url, onclick: openMessage(m) },
        h('span', { class: 'todo-title' }, m.kind === 'encouragement' ? `${m.sender_name}: ${m.text}` : m.text),
        h('span', { class: 'meta' }, (m.read ? '' : 'Nieuw · ') + (m.kind === 'nudge' ? 'Seintje' : 'Bericht van ' + m.sender_name) + ' · ' + dateNl(m.created_at.slice(0, 10)))))]),
  ].sort((a, b) => (a[0] < b[0] ? 1 : -1));
  main.append(
    h('p', { role: 'status' }, unread === 0 ? 'Je hebt geen nieuwe berichten.'
      : unread === 1 ? 'Je hebt 1 nieuw bericht.' : `Je hebt ${unread} nieuwe berichten.`),
    rows.length ? h('ul', { class: 'todos' }, rows.map((r) => r[1]))
      : h('p', {}, 'Staat er een stap voor je klaar? Dan zie je dat hier.'),
    h('p', {}, h('a', { href: PAGE }, 'Herinneringen aan- of uitzetten')));
}
