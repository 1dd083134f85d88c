import { h } from '../dom.js';

export function render(main) {
  main.append(
    h('h1', {}, 'Deze pagina bestaat niet'),
    h('p', {}, 'Misschien is de link oud of klopt er een letter niet.'),
    h('p', {}, h('a', { href: '/' }, 'Ga naar Vandaag')),
  );
}
