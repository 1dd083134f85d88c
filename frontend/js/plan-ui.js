// Small pieces shared by the plan screens: the check mark and the "when" line of a step.
import { h } from './dom.js';
import { dateNl } from './fmt.js';

const NS = 'http://www.w3.org/2000/svg';

export function check() {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(NS, 'path');
  p.setAttribute('d', 'M5 12.5l4.5 4.5L19 7.5');
  svg.append(p);
  return svg;
}

/** "vóór 12 maart 2027", "vanaf 1 juni 2026" or "tussen … en …" for a step that is still open. */
export function whenText(item) {
  const w = item.window || {};
  if (w.earliest && w.latest) return `tussen ${dateNl(w.earliest)} en ${dateNl(w.latest)}`;
  if (w.earliest && w.earliest >= item.due_date) return 'vanaf ' + dateNl(w.earliest);
  return 'vóór ' + dateNl(item.due_date);
}

/** The state line under a step title: calm, never an alarm. */
export function dueLine(item) {
  if (item.state === 'done') return h('span', { class: 'meta state-done' }, check(), 'Klaar');
  if (item.state === 'not_for_me') return h('span', { class: 'meta' }, 'Niet voor mij');
  if (item.state === 'skipped') return h('span', { class: 'meta' }, item.label || 'Later bekijken');
  if (item.overdue) return h('span', { class: 'meta gentle' }, item.label || 'Nog niet gedaan?');
  if (item.label === 'Vandaag') return h('span', { class: 'meta' }, 'Vandaag');
  return h('span', { class: 'meta' }, whenText(item));
}
