// One step: why, how, what you need, links, cost, who can help, when; tick it as done or not for me.
import { h, add } from '../dom.js';
import { loadPlan, loadContent, tick, overlay } from '../store.js';
import { dateNl } from '../fmt.js';
import { whenText, check } from '../plan-ui.js';
import { stepHelp } from '../kaart.js';

const PHONE = /(0[89]00[- ]?\d{4,7}|\b0\d{1,3}-\d{6,8}\b)/;

/** Text with phone numbers as tap-to-call links. */
function withPhones(text) {
  return String(text).split(PHONE).map((part, i) => (i % 2
    ? h('a', { href: 'tel:' + part.replace(/\D/g, '') }, part) : part));
}

function section(id, title, ...body) {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

const MESSAGES = {
  done: 'Goed gedaan! Deze stap is klaar.',
  not_for_me: 'Oké. Deze stap staat nu bij Klaar.',
  todo: 'Deze stap staat weer op je lijst.',
};

export async function render(main, { id }) {
  const heading = h('h1', {}, 'Stap');
  main.append(heading);
  const [{ plan }, content] = await Promise.all([loadPlan(), loadContent().catch(() => null)]);
  if (!heading.isConnected) return;
  const step = content && content.steps.find((s) => s.id === id);
  const items = plan ? plan.items : [];
  const item = items.find((i) => i.step_id === id);
  if (!step && !item) {
    heading.textContent = content ? 'Deze stap bestaat niet' : 'Deze stap kan nu niet laden';
    main.append(
      h('p', {}, content ? 'Misschien is de link oud.' : 'Heb je internet? Probeer het later nog een keer.'),
      h('p', {}, h('a', { href: '/stappen' }, 'Ga naar Mijn stappen')));
    return;
  }
  const title = item ? item.title : step.title;
  heading.textContent = title;
  const lg = item ? item.leefgebied : step.leefgebied;
  const lgLabel = ((content && content.leefgebieden.find((l) => l.id === lg)) || (plan && plan.progress.find((p) => p.leefgebied === lg)) || {}).label;
  if (lgLabel) heading.before(h('p', { class: 'kicker' }, lgLabel));

  // --- state and buttons ---
  const live = h('p', { class: 'vh', role: 'status' }); // the box above shows it; this tells screen readers
  const stateBox = h('div', { class: 'card state' });

  function paint(focus) {
    const s = item.state;
    const waiting = item.waiting_for.map((d) => items.find((i) => i.step_id === d)).filter(Boolean);
    const btn = (label, state, cls = 'btn') => h('button', {
      type: 'button', class: cls,
      onclick: async () => {
        const rec = await tick(item.progress_key, state);
        Object.assign(item, overlay({ items: [item], progress: [] }, { [item.progress_key]: rec }).items[0]);
        live.textContent = MESSAGES[state] || '';
        paint(true);
      },
    }, label);
    const buttons = s === 'done' ? [btn('Toch nog niet gedaan', 'todo', 'btn btn-secondary')]
      : s === 'not_for_me' ? [btn('Toch wel voor mij', 'todo', 'btn btn-secondary')]
        : [btn('Gedaan', 'done'), btn('Niet voor mij', 'not_for_me', 'btn btn-secondary')];
    stateBox.replaceChildren();
    add(stateBox,
      s === 'done' ? h('p', { class: 'state-done big' }, check(), 'Klaar! Goed gedaan.')
        : s === 'not_for_me' ? h('p', {}, 'Je zei: deze stap is niet voor mij.')
          : item.overdue ? h('p', {}, h('strong', { class: 'gentle' }, item.label || 'Nog niet gedaan?'), ' Dat geeft niet. Doe het als het lukt.')
            : h('p', {}, 'Doe dit ', h('strong', {}, whenText(item)), '.'),
      s !== 'done' && s !== 'not_for_me' && waiting.length
        ? h('p', {}, 'Doe eerst: ', waiting.map((w, n) => [n ? ', ' : '', h('a', { href: '/stappen/' + encodeURIComponent(w.step_id) }, w.title)]).flat())
        : null,
      h('div', { class: 'actions' }, buttons),
    );
    if (focus) buttons[0].focus();
  }
  if (item) {
    paint(false);
    main.append(stateBox, live);
  } else {
    main.append(h('p', { class: 'notice' }, 'Deze stap staat nu niet in jouw plan.'));
  }

  if (!step) {
    main.append(h('p', { class: 'notice' }, 'De uitleg kan nu niet laden. Heb je internet? Probeer het later nog een keer.'));
    return;
  }

  // --- the explanation ---
  const bedragen = (content.bedragen || []).filter((b) => (step.bedragen || []).includes(b.key));
  const timing = step.timing || {};
  const hulp = h('section', { id: 'hulp-hierbij', hidden: true });
  add(main,
    step.why ? section('s-why', 'Waarom is dit belangrijk?', h('p', {}, step.why)) : null,
    step.how && step.how.length ? section('s-how', 'Zo doe je het', h('ol', { class: 'how' }, step.how.map((t) => h('li', {}, t)))) : null,
    step.need && step.need.length ? section('s-need', 'Wat heb je nodig?', h('ul', {}, step.need.map((t) => h('li', {}, t)))) : null,
    step.links && step.links.length ? section('s-links', 'Kijk op deze websites',
      h('p', { class: 'muted' }, 'De links openen in een nieuw tabblad.'),
      h('ul', { class: 'links' }, step.links.map((l) => h('li', {},
        h('a', { href: l.url, target: '_blank', rel: 'noopener noreferrer' }, l.title,
          h('span', { class: 'vh' }, ' (opent in een nieuw tabblad)')))))) : null,
    step.cost || bedragen.length ? section('s-cost', 'Wat kost het?',
      step.cost ? h('p', {}, step.cost) : null,
      bedragen.length ? h('ul', {}, bedragen.map((b) => h('li', {}, `${b.label}: ${b.text}`))) : null) : null,
    step.who_can_help ? section('s-help', 'Wie kan je helpen?', h('p', {}, withPhones(step.who_can_help))) : null,
    section('s-when', 'Wanneer?',
      (timing.due || []).length ? h('p', {}, 'Het beste: ', timing.due.join(' of '), '.') : null,
      item && item.state !== 'done' && item.state !== 'not_for_me' ? h('p', {}, `Voor jou is dat ${whenText(item)}.`) : null,
      timing.window && timing.window.earliest ? h('p', {}, `Niet eerder dan: ${timing.window.earliest}.`) : null,
      timing.window && timing.window.latest ? h('p', {}, `Uiterlijk: ${timing.window.latest}.`) : null,
      step.recurring ? h('p', {}, 'Dit komt elk jaar terug.') : null),
    hulp,
    h('footer', { class: 'source' },
      (step.sources || []).length ? h('p', {}, 'Bron: ', step.sources.join('; '), '.') : null,
      step.peildatum ? h('p', {}, 'Gecontroleerd op ' + dateNl(step.peildatum) + '.') : null),
  );
  stepHelp(hulp, step).catch((err) => console.warn('Hulp hierbij', err));
}
