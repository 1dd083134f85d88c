// Klaar voor vertrek? Per area: arranged (a check and the word), or the next step. Works from the cached plan.
import { h, add } from '../dom.js';
import { loadPlan } from '../store.js';
import { dateNl, dayDiff, todayIso } from '../fmt.js';
import { check } from '../plan-ui.js';

function when(v) {
  if (!v) return 'Je hebt nog geen vertrekdatum. Toch is het goed om dit op tijd te regelen.';
  const days = dayDiff(todayIso(), v);
  return days > 1 ? `Je vertrekdatum is ${dateNl(v)}. Dat is over ${days} dagen.`
    : days === 1 ? 'Je vertrekt morgen.' : days === 0 ? 'Je vertrekt vandaag.' : `Je vertrekdatum was ${dateNl(v)}.`;
}

function area(a) {
  return h('li', { class: a.ready ? 'card area ok' : 'card area' },
    h('h2', {}, a.label),
    a.ready ? h('p', { class: 'state-done' }, check(), 'Geregeld')
      : a.next ? [h('p', {}, 'Nog niet geregeld. Je volgende stap:'),
        h('a', { class: 'next', href: '/stappen/' + encodeURIComponent(a.next.step_id) }, a.next.title)]
        : h('p', {}, 'Nog niet geregeld. Vraag je begeleider wat je nog kunt doen.'));
}

export async function render(main) {
  const heading = h('h1', {}, 'Klaar voor vertrek?');
  main.append(heading);
  const { profile, plan, offline, error } = await loadPlan();
  if (!heading.isConnected) return;
  const r = plan && plan.readiness;
  if (!r || !r.areas) {
    main.append(!profile ? h('p', {}, 'Je hebt nog geen plan. ', h('a', { href: '/' }, 'Beantwoord eerst een paar korte vragen.'))
      : h('p', {}, error ? error.message : 'Dit overzicht kan nu niet laden. Heb je internet? Probeer het later nog een keer.'));
    return;
  }
  const done = r.areas.filter((a) => a.ready).length;
  add(main,
    offline ? h('p', { class: 'notice' }, 'Je hebt nu geen internet. Dit is wat je telefoon weet.') : null,
    h('p', { class: 'lead' }, r.ready ? 'Alles is geregeld. Je bent klaar voor vertrek!'
      : 'Dit moet geregeld zijn als je weggaat. Kijk wat nog moet.'),
    h('p', {}, when(r.vertrekdatum || profile.vertrekdatum)),
    h('p', {}, h('strong', {}, `${done} van ${r.areas.length} geregeld.`)),
    h('ul', { class: 'areas' }, r.areas.map(area)));
}
