// Vandaag: the few things to do now and how far you are per leefgebied. No profile yet: the welcome screen.
import { h, add, takeFlash, setFlash } from '../dom.js';
import { navigate } from '../router.js';
import { loadPlan, prefetchContent, account } from '../store.js';
import { dueLine, check } from '../plan-ui.js';
import { dayDiff, todayIso } from '../fmt.js';

const SHOW = 3;

function welcome(main, flash) {
  add(main,
    h('h1', { 'data-title': 'Welkom' }, 'Welkom bij Startklaar'),
    flash ? h('p', { class: 'notice', role: 'status' }, flash) : null,
    h('p', { class: 'lead' }, 'Word je 18? Of ga je op jezelf wonen? Startklaar helpt je om alles op tijd te regelen.'),
    h('ul', { class: 'checks' },
      h('li', {}, check(), 'Je ziet wat je nu kunt doen.'),
      h('li', {}, check(), 'Bij elke stap staat uitleg.'),
      h('li', {}, check(), 'Je vinkt af wat klaar is.')),
    h('p', {}, h('strong', {}, 'Je hebt geen account nodig.'), ' Je gegevens blijven op je telefoon.'),
    h('p', {}, 'Eerst stellen we je 3 of 4 korte vragen.'),
    h('p', { class: 'actions' }, h('a', { class: 'btn', href: '/start/geboortedatum' }, 'Begin')),
    h('p', {}, 'Heb je al een account? ', h('a', { href: '/ik/inloggen' }, 'Log in')),
  );
}

function todoCard(item, labels) {
  return h('li', {},
    h('a', { class: 'todo', href: '/stappen/' + encodeURIComponent(item.step_id) },
      h('span', { class: 'todo-title' }, item.title),
      h('span', { class: 'meta' }, labels[item.leefgebied] || ''),
      dueLine(item)));
}

function meters(plan) {
  const groups = plan.progress.filter((g) => g.total > 0);
  const done = groups.reduce((n, g) => n + g.done, 0);
  return h('section', { 'aria-labelledby': 'v-voortgang' },
    h('h2', { id: 'v-voortgang' }, 'Zo ver ben je'),
    h('p', {}, done === 0 ? 'Je bent net begonnen. Elke stap telt.'
      : done === 1 ? 'Je hebt al 1 stap klaar. Goed bezig!' : `Je hebt al ${done} stappen klaar. Goed bezig!`),
    h('ul', { class: 'meters' }, groups.map((g) => h('li', { class: g.done === g.total ? 'meter full' : 'meter' },
      h('span', { class: 'meter-label' }, g.label),
      h('span', { class: 'meter-count' }, g.done === g.total ? [check(), 'Alles klaar!'] : `${g.done} van ${g.total} klaar`),
      h('progress', { max: g.total, value: g.done, 'aria-hidden': 'true' })))));
}

export async function render(main) {
  const flash = takeFlash();
  const heading = h('h1', {}, 'Vandaag');
  main.append(heading);
  const acc = await account();
  if (acc && acc.role === 'mentor') { // someone who follows jongeren has no plan of their own
    if (flash) setFlash(flash);
    navigate('/meekijken', { replace: true });
    return undefined;
  }
  const { profile, plan, offline, error } = await loadPlan();
  if (!heading.isConnected) return;
  if (!profile) { heading.remove(); welcome(main, flash); return undefined; }

  if (flash) main.append(h('p', { class: 'notice', role: 'status' }, flash));
  if (offline) {
    main.append(h('p', { class: 'notice' }, 'Je hebt nu geen internet. Wat je afvinkt, bewaren we op je telefoon.'));
  }
  if (!plan) {
    add(main,
      h('p', { class: 'lead' }, error ? error.message : 'Je plan maken we zodra je weer internet hebt.'),
      error ? h('p', {}, h('a', { href: '/ik' }, 'Kijk je gegevens na')) : null,
    );
    if (error) return undefined;
    const retry = () => navigate('/', { replace: true }); // internet is back: make the plan now
    window.addEventListener('online', retry, { once: true });
    return () => window.removeEventListener('online', retry);
  }
  prefetchContent();

  const labels = Object.fromEntries(plan.progress.map((g) => [g.leefgebied, g.label]));
  const nu = plan.items.filter((i) => i.bucket === 'nu');
  const next = plan.items.find((i) => i.bucket === 'binnenkort' || i.bucket === 'later');
  const now = h('section', { 'aria-labelledby': 'v-nu' }, h('h2', { id: 'v-nu' }, 'Dit kun je nu doen'));
  if (nu.length) {
    now.append(
      h('p', {}, 'Kies er één. Tik erop voor uitleg.'),
      h('ul', { class: 'todos' }, nu.slice(0, SHOW).map((i) => todoCard(i, labels))));
    if (nu.length > SHOW) {
      now.append(h('p', {}, h('a', { class: 'btn btn-secondary', href: '/stappen' },
        nu.length - SHOW === 1 ? 'Bekijk nog 1 stap' : `Bekijk nog ${nu.length - SHOW} stappen`)));
    }
  } else {
    now.append(h('p', {}, 'Je hoeft nu niets te doen. Goed bezig!'));
    if (next) now.append(h('p', {}, 'Hierna komt:'), h('ul', { class: 'todos' }, todoCard(next, labels)));
  }
  const v = profile.vertrekdatum;
  const r = plan.readiness;
  const soon = v && dayDiff(todayIso(), v) <= 42 ? h('section', { 'aria-labelledby': 'v-klaar' },
    h('h2', { id: 'v-klaar' }, 'Klaar voor vertrek?'),
    h('a', { class: 'todo', href: '/klaar' }, h('span', { class: 'todo-title' }, 'Bekijk wat geregeld is'),
      h('span', { class: 'meta' }, r && r.ready ? 'Alles is geregeld. Goed gedaan!' : 'Je vertrekt bijna. Kijk wat nog moet.'))) : null;
  add(main, soon, now, meters(plan));
  return undefined;
}
