import { h } from '../dom.js';

export function render(main) {
  main.append(
    h('h1', {}, 'Mijn stappen'),
    h('p', { class: 'lead' }, 'Hier komen straks alle stappen voor als je 18 wordt en op jezelf gaat wonen.'),
    h('p', {}, 'Je ziet wat al klaar is en wat nog moet.'),
  );
}
