import { h } from '../dom.js';

export function render(main) {
  main.append(
    h('h1', {}, 'Vandaag'),
    h('p', { class: 'lead' }, 'Hier zie je straks wat je nu het beste kunt doen.'),
    h('p', {}, 'Stap voor stap. Jij bepaalt het tempo.'),
  );
}
