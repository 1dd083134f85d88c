// Mijn stappen: all steps of your plan per leefgebied, open or klaar.
import { h } from '../dom.js';
import { loadPlan } from '../store.js';
import { dueLine } from '../plan-ui.js';

let showDone = false; // remembered while the app is open (coming back from a step page)

function list(plan, main) {
  const box = h('div', { id: 'stappen-lijst' });
  const wanted = (i) => (i.bucket === 'klaar') === showDone;
  const all = plan.items.filter(wanted);
  for (const g of plan.progress) {
    const items = all.filter((i) => i.leefgebied === g.leefgebied);
    if (!items.length) continue;
    const id = 'lg-' + g.leefgebied;
    box.append(h('section', { 'aria-labelledby': id, class: 'group' },
      h('h2', { id }, g.label, h('span', { class: 'count' }, `${g.done} van ${g.total} klaar`)),
      h('ul', { class: 'steps' }, items.map((i) => h('li', {},
        h('a', { href: '/stappen/' + encodeURIComponent(i.step_id) }, i.title),
        i.bucket === 'nu' && !i.overdue ? h('span', { class: 'meta now' }, 'Nu doen') : null,
        dueLine(i))))));
  }
  if (!all.length) {
    box.append(h('p', {}, showDone ? 'Nog niets klaar. Dat komt vanzelf: stap voor stap.' : 'Alles is klaar. Wat knap van je!'));
  }
  return box;
}

export async function render(main) {
  const heading = h('h1', {}, 'Mijn stappen');
  main.append(heading);
  const { profile, plan, error } = await loadPlan();
  if (!heading.isConnected) return;
  if (!plan) {
    main.append(profile
      ? h('p', {}, error ? error.message : 'Je plan maken we zodra je weer internet hebt.')
      : h('p', {}, 'Je hebt nog geen plan. ', h('a', { href: '/' }, 'Beantwoord eerst een paar korte vragen.')));
    return;
  }
  const open = plan.items.filter((i) => i.bucket !== 'klaar').length;
  const klaar = plan.items.length - open;
  const buttons = [
    h('button', { type: 'button', class: 'toggle', 'aria-pressed': String(!showDone) }, `Nog te doen (${open})`),
    h('button', { type: 'button', class: 'toggle', 'aria-pressed': String(showDone) }, `Klaar (${klaar})`),
  ];
  buttons.forEach((b, n) => b.addEventListener('click', () => {
    showDone = n === 1;
    buttons.forEach((x, m) => x.setAttribute('aria-pressed', String(m === n)));
    main.querySelector('#stappen-lijst').replaceWith(list(plan, main));
  }));
  main.append(
    h('p', { class: 'lead' }, 'Alle stappen van jouw plan. Tik op een stap voor uitleg.'),
    h('div', { class: 'toggles', role: 'group', 'aria-label': 'Welke stappen wil je zien?' }, buttons),
    list(plan, main),
  );
}
