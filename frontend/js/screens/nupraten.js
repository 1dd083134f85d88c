// "Hulp nodig? Nu praten": crisis numbers. Part of the precached shell, so it works offline.
import { h } from '../dom.js';

const NS = 'http://www.w3.org/2000/svg';

function icon(d) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}
const PHONE = 'M5 3h3l2 5-2.5 1.5a11 11 0 0 0 7 7L16 14l5 2v3a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z';
const CHAT = 'M21 12a8 8 0 0 1-11.6 7.1L4 21l1.9-5.4A8 8 0 1 1 21 12z';

function call(number, label, cls = 'btn') {
  return h('a', { class: cls, href: 'tel:' + number }, icon(PHONE), label);
}

export function render(main) {
  main.append(
    h('h1', {}, 'Hulp nodig? Praat nu met iemand'),
    h('p', { class: 'lead' }, 'Voel je je heel slecht? Of ben je in gevaar? Je bent niet alleen. Hier kun je meteen bellen of chatten.'),

    h('section', { class: 'card card-danger', 'aria-labelledby': 'np-112' },
      h('h2', { id: 'np-112' }, 'Direct gevaar? Bel 112'),
      h('p', {}, 'Is er nu gevaar voor jou of iemand anders? Bel 112 voor politie, ambulance of brandweer.'),
      h('div', { class: 'actions' }, call('112', 'Bel 112', 'btn btn-danger')),
    ),

    h('section', { class: 'card', 'aria-labelledby': 'np-113' },
      h('h2', { id: 'np-113' }, '113 Zelfmoordpreventie'),
      h('p', {}, 'Denk je aan zelfmoord? Of maak je je zorgen om iemand? Praat erover met 113.'),
      h('p', {}, h('strong', {}, 'Gratis, dag en nacht.'), ' Je mag anoniem blijven.'),
      h('div', { class: 'actions' },
        call('08000113', 'Bel 0800-0113'),
        h('a', { class: 'btn btn-secondary', href: 'https://www.113.nl', target: '_blank', rel: 'noopener' },
          icon(CHAT), 'Chat met 113', h('span', { class: 'vh' }, ' (opent de website van 113)')),
      ),
      h('p', { class: 'muted' }, 'Chatten kan alleen als je internet hebt. Bellen kan altijd.'),
    ),

    h('section', { class: 'card', 'aria-labelledby': 'np-vt' },
      h('h2', { id: 'np-vt' }, 'Veilig Thuis'),
      h('p', {}, 'Is er geweld thuis? Word je bedreigd of slecht behandeld? Bel Veilig Thuis. Ook als je twijfelt.'),
      h('p', {}, h('strong', {}, 'Gratis, dag en nacht.'), ' Je mag anoniem bellen.'),
      h('div', { class: 'actions' }, call('08002000', 'Bel 0800-2000')),
    ),

    h('p', {}, 'Wil je liever praten met iemand die je kent? Bel je mentor, begeleider of iemand die je vertrouwt.'),
  );
}
