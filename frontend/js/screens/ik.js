import { h } from '../dom.js';

export function render(main) {
  main.append(
    h('h1', {}, 'Ik'),
    h('p', { class: 'lead' }, 'Hier vul je straks je gegevens in. Bijvoorbeeld je geboortedatum en je gemeente.'),
    h('p', {}, 'Jij bepaalt wie jouw plan mag zien.'),
  );
}
