// One step: why, how, what you need, links, cost, who can help, when; tick it as done or not for me.
import { h, add } from '../dom.js';
import { loadPlan, loadContent, tick, overlay } from '../store.js';
import { dateNl } from '../fmt.js';
import { whenText, check } from '../plan-ui.js';
import { stepHelp } from '../kaart.js';

const PHONE = /(0[89]00[- ]?\d{4,7}|\b0\d{1,3}-\d{6,8}\b)/;
const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let uid = 0;

/** The glossary: one regex (longest form first, whole words, any case). */
function glossary(list) {
  const by = new Map();
  for (const g of list || []) for (const f of [g.term, ...(g.forms || [])]) if (f) by.set(f.toLowerCase(), g);
  const forms = [...by.keys()].sort((a, b) => b.length - a.length);
  return forms.length ? { by, used: new Set(), re: new RegExp(`(?<![\\p{L}\\p{N}])(${forms.map(esc).join('|')})(?![\\p{L}\\p{N}])`, 'iu') } : null;
}

/** A word you tap to open its explanation, which comes after the sentence. */
function term(word, g, boxes) {
  const id = 'uitleg-' + ++uid;
  const box = h('span', { class: 'gloss', id, hidden: true }, h('strong', {}, word), ': ', g.text);
  boxes.push(box);
  const btn = h('button', {
    type: 'button', class: 'term', 'aria-expanded': 'false', 'aria-controls': id,
    onclick: () => { box.hidden = !box.hidden; btn.setAttribute('aria-expanded', String(!box.hidden)); },
  }, word);
  return btn;
}

/** Phone numbers as links; the first use of each glossary term as a term(). */
function rich(text, gl, boxes) {
  return String(text).split(PHONE).flatMap((part, i) => {
    if (i % 2) return [h('a', { href: 'tel:' + part.replace(/\D/g, '') }, part)];
    const out = [];
    let m;
    while (gl && (m = gl.re.exec(part))) {
      const g = gl.by.get(m[1].toLowerCase());
      const cut = m.index + m[1].length;
      out.push(part.slice(0, m.index), ...(gl.used.has(g) ? [m[1]] : (gl.used.add(g), [term(m[1], g, boxes)])));
      part = part.slice(cut);
    }
    out.push(part);
    return out.filter((x) => x !== '');
  });
}

/** "https://www.x.nl/a/b (note)" -> a link "x.nl/a/… (note)". */
function sourceLink(text) {
  const m = /^(https:\/\/\S+)(?:\s+\((.*)\))?\s*$/.exec(String(text).trim());
  if (!m) return null;
  let url;
  try { url = new URL(m[1]); } catch { return null; }
  const parts = url.pathname.split('/').filter(Boolean);
  const short = url.host.replace(/^www\./, '') + (parts.length ? `/${parts[0]}${parts.length > 1 ? '/…' : ''}` : '');
  return h('li', {}, ext(url.href, short, m[2] ? ` (${m[2]})` : null));
}

const ext = (href, ...text) => h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, ...text, h('span', { class: 'vh' }, ' (opent in een nieuw tabblad)'));

function section(id, title, ...body) {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

const MESSAGES = {
  done: 'Goed gedaan! Deze stap is klaar.',
  not_for_me: 'Oké. Deze stap staat nu bij Klaar.',
  todo: 'Deze stap staat weer op je lijst.',
};

/** Which woonsite the gemeente where you will live uses (from the plan), or where to ask when we do not know. */
function woonsite(w) {
  if (!w) {
    return section('s-woonsite', 'Jouw woonsite',
      h('p', {}, 'We weten niet welke woonsite jouw gemeente gebruikt. Kijk op de site van je gemeente. Of vraag het je mentor.'));
  }
  return section('s-woonsite', 'Jouw woonsite',
    h('p', {}, 'In jouw regio schrijf je je in bij: ', ext(w.url, w.name), '.'),
    h('p', {}, `Dat kan vanaf ${w.min_age} jaar.`),
    w.fee ? h('p', {}, `Kosten: ${w.fee}${w.fee_year ? ` (${w.fee_year})` : ''}.`) : null,
    w.renewal ? h('p', {}, w.renewal) : null);
}

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
  // The amount on this step's date (from the plan), else the one valid today.
  const amount = (k) => (item && item.amounts && item.amounts[k]) || ((content.bedragen || []).find((b) => b.key === k) || {}).text;
  const fill = (t) => (Array.isArray(t) ? t.map(fill) : t && String(t).replace(/\{(\w+)\}/g, (all, k) => amount(k) || all));
  const tpl = step.template;
  const listed = bedragen.filter((b) => !(tpl && tpl.cost && tpl.cost.includes(`{${b.key}}`)));
  const txt = tpl ? Object.fromEntries(Object.entries(tpl).map(([k, v]) => [k, fill(v)])) : step;
  if (tpl && tpl.title) heading.textContent = txt.title;
  const gl = glossary(content.glossary);
  const r = (tag, t) => { const boxes = []; const el = h(tag, {}, rich(t, gl, boxes)); return tag === 'li' ? add(el, boxes) : [el, ...boxes]; };
  const timing = step.timing || {};
  const hulp = h('section', { id: 'hulp-hierbij', hidden: true });
  const sources = (step.sources || []).map(sourceLink).filter(Boolean);
  const tip = h('p', { class: 'muted' }, 'Zie je een woord met een stippellijn? Tik erop voor uitleg.');
  add(main,
    id === 'big-5-checken' ? h('p', {}, h('a', { class: 'btn', href: '/klaar' }, 'Bekijk wat al geregeld is')) : null,
    tip,
    txt.why ? section('s-why', 'Waarom is dit belangrijk?', r('p', txt.why)) : null,
    txt.how && txt.how.length ? section('s-how', 'Zo doe je het', h('ol', { class: 'how' }, txt.how.map((t) => r('li', t)))) : null,
    txt.need && txt.need.length ? section('s-need', 'Wat heb je nodig?', h('ul', {}, txt.need.map((t) => r('li', t)))) : null,
    step.links && step.links.length ? section('s-links', 'Kijk op deze websites',
      h('p', { class: 'muted' }, 'De links openen in een nieuw tabblad.'),
      h('ul', { class: 'links' }, step.links.map((l) => h('li', {}, ext(l.url, l.title))))) : null,
    txt.cost || bedragen.length ? section('s-cost', 'Wat kost het?',
      txt.cost ? r('p', txt.cost) : null,
      // Amounts the cost text already names are not listed again.
      listed.length ? h('ul', {}, listed.map((b) => h('li', {}, `${b.label}: ${amount(b.key)}`))) : null) : null,
    (step.topics || []).includes('woningzoeken') && plan ? woonsite(plan.woonsite) : null,
    txt.who_can_help ? section('s-help', 'Wie kan je helpen?', r('p', txt.who_can_help)) : null,
    section('s-when', 'Wanneer?',
      (timing.due || []).length ? h('p', {}, 'Het beste: ', timing.due.join(' of '), '.') : null,
      item && item.state !== 'done' && item.state !== 'not_for_me' ? h('p', {}, `Voor jou is dat ${whenText(item)}.`) : null,
      timing.window && timing.window.earliest ? h('p', {}, `Niet eerder dan: ${timing.window.earliest}.`) : null,
      timing.window && timing.window.latest ? h('p', {}, `Uiterlijk: ${timing.window.latest}.`) : null,
      step.recurring ? h('p', {}, 'Dit komt elk jaar terug.') : null),
    hulp,
    h('footer', { class: 'source' },
      sources.length ? [h('p', { id: 's-bron' }, 'Bron:'), h('ul', { class: 'links', 'aria-labelledby': 's-bron' }, sources)] : null,
      step.peildatum ? h('p', {}, 'Gecontroleerd op ' + dateNl(step.peildatum) + '.') : null),
  );
  if (!gl || !gl.used.size) tip.remove();
  stepHelp(hulp, step).catch((err) => console.warn('Hulp hierbij', err));
}
