// Startklaar entry point: starts the router and registers the service worker.
import { start, navigate } from './router.js';
import { startSync, events } from './store.js';
import { post } from './api.js';
import { setFlash } from './dom.js';

// The page title follows the screen's heading (a step's title, "Welkom" before the first questions).
const heading = (fallback) => () => {
  const h1 = document.querySelector('main h1');
  return (h1 && (h1.dataset.title || h1.textContent)) || fallback;
};
const onboarding = () => import('./screens/onboarding.js');
const routes = [
  { path: '/', title: heading('Vandaag'), load: () => import('./screens/vandaag.js') },
  { path: '/start/:stap', title: heading('Je gegevens'), load: onboarding },
  { path: '/stappen', title: 'Mijn stappen', load: () => import('./screens/stappen.js') },
  { path: '/stappen/:id', title: heading('Stap'), load: () => import('./screens/stap.js') },
  { path: '/klaar', title: 'Klaar voor vertrek?', load: () => import('./screens/klaar.js') },
  { path: '/hulp', title: 'Hulp in de buurt', load: () => import('./screens/hulp.js') },
  { path: '/hulp/:gm/:id', title: heading('Hulp'), load: () => import('./screens/dienst.js') },
  { path: '/ik', title: 'Ik', load: () => import('./screens/ik.js') },
  { path: '/ik/gegevens/:stap', title: heading('Je gegevens'), load: onboarding },
  ...[['/herinneringen', 'render'], ['/herinneringen/instellen', 'settings'], ['/berichten', 'inbox']].map(([p, fn]) => (
    { path: '/ik' + p, title: heading('Herinneringen'), load: () => import('./screens/herinneringen.js').then((m) => ({ render: m[fn] })) })),
  ...[['', 'render'], ['/uitnodigen', 'invite'], ['/logboek', 'log'], ['/:link', 'edit']].map(([p, fn]) => (
    { path: '/ik/meekijken' + p, title: heading('Wie kijkt mee?'), load: () => import('./screens/meekijken.js').then((m) => ({ render: m[fn] })) })),
  { path: '/ik/verwijderen', title: 'Verwijder je account', load: () => import('./screens/privacy.js').then((m) => ({ render: m.remove })) },
  { path: '/privacy', title: 'Privacy', load: () => import('./screens/privacy.js') },
  { path: '/ik/:actie', title: heading('Ik'), load: () => import('./screens/account.js') },
  { path: '/nu-praten', title: 'Nu praten', load: () => import('./screens/nupraten.js') },
  // The mentor's side: accept an invite, the dashboard, one jongere's shared steps.
  ...[['/inloggen', 'loginFailed'], ['/meekijken', 'dashboard'], ['/meekijken/jongere/:link', 'jongere'], ['/meekijken/:code', 'accept']].map(([p, fn]) => (
    { path: p, title: heading('Meekijken'), load: () => import('./screens/mentor.js').then((m) => ({ render: m[fn] })) })),
  // For gemeente editors; not in the menu, and (outside js/) not in the phone app's offline shell.
  ...['', '/:kaart', '/:kaart/:versie', '/:kaart/:versie/:dienst'].map((p) => (
    { path: '/beheer' + p, title: heading('Beheer'), load: () => import('../beheer/beheer.js') })),
];
const notFound = { title: 'Pagina niet gevonden', load: () => import('./screens/notfound.js') };

/**
 * A tapped notification opens its page with ?gelezen=herinnering-12 (or bericht-12): mark that one read,
 * as opening it from the inbox does, and take the mark out of the address. Offline it stays new.
 */
function takeReadMark(to) {
  const url = new URL(to, location.href);
  const mark = url.searchParams.get('gelezen');
  if (mark === null) return to;
  url.searchParams.delete('gelezen');
  const m = /^(herinnering|bericht)-([1-9][0-9]{0,9})$/.exec(mark);
  if (m) post(`/api/me/${m[1] === 'bericht' ? 'messages' : 'reminders'}/${m[2]}/read`).catch(() => {});
  return url.pathname + url.search + url.hash;
}

const opened = takeReadMark(location.href);
if (opened !== location.pathname + location.search + location.hash) history.replaceState(null, '', opened);
start(document.getElementById('main'), routes, notFound);

// The login ended on another device (or ran out): say so, on a screen that shows what is left on this phone.
const ENDED = {
  ticks: 'Je bent niet meer ingelogd. Je vinkjes staan nog op deze telefoon. Log opnieuw in, dan bewaren we ze in je account.',
  profile: 'Je bent niet meer ingelogd. Je gegevens staan nog op deze telefoon. Log opnieuw in, dan bewaren we ze in je account.',
  mentor: 'Je bent niet meer ingelogd. Log opnieuw in om verder mee te kijken.',
  gone: 'Je bent niet meer ingelogd. Je plan staat veilig in je account. Log opnieuw in om het weer te zien.',
};
events.addEventListener('login-ended', (e) => {
  const { kept, mentor } = e.detail || {};
  setFlash(ENDED[kept || (mentor ? 'mentor' : 'gone')]);
  navigate(mentor ? '/meekijken' : '/', { replace: true });
});
startSync();

// With very large text the bottom menu grows; then let it scroll away instead of covering the page.
const tabs = document.querySelector('.tabs');
if (tabs && 'ResizeObserver' in window) {
  const fit = () => document.body.classList.toggle('tabs-static', tabs.offsetHeight > window.innerHeight / 4);
  new ResizeObserver(fit).observe(tabs);
  window.addEventListener('resize', fit);
}

function showUpdate() {
  const box = document.getElementById('update');
  if (!box || box.firstChild) return;
  const p = document.createElement('span');
  p.textContent = 'Er is een nieuwe versie van de app.';
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn btn-secondary';
  b.textContent = 'Nu vernieuwen';
  b.addEventListener('click', () => location.reload());
  box.append(p, b);
}

if ('serviceWorker' in navigator) {
  const hadController = !!navigator.serviceWorker.controller;
  const register = () => navigator.serviceWorker.register('/sw.js', { scope: '/' })
    .catch((err) => console.warn('Service worker', err));
  // After the page has loaded, so the precache does not compete with the first screen.
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
  // A new version took over while this page was open: offer a reload, never force one.
  navigator.serviceWorker.addEventListener('controllerchange', () => { if (hadController) showUpdate(); });
  // A tapped reminder: the service worker asks an open app to show its step.
  navigator.serviceWorker.addEventListener('message', (e) => {
    const url = e.data && e.data.type === 'open' && e.data.url;
    if (typeof url === 'string' && /^\/(?!\/)/.test(url)) navigate(takeReadMark(url));
  });
}
