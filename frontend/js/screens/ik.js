// Ik: your details (change them one by one) and your account.
import { h, add, setFlash, takeFlash } from '../dom.js';
import { navigate } from '../router.js';
import { getProfile, account, pendingCount, logout, events, loadContent, asksFuture } from '../store.js';
import { dateNl } from '../fmt.js';

function row(label, value, stap) {
  return h('div', { class: 'fact' },
    h('dt', {}, label),
    h('dd', {}, value, ' ', h('a', { href: '/ik/gegevens/' + stap, class: 'edit' }, 'Wijzig', h('span', { class: 'vh' }, ' ' + label.toLowerCase()))));
}

function details(profile, acc, situations) {
  const box = h('section', { 'aria-labelledby': 'ik-gegevens' }, h('h2', { id: 'ik-gegevens' }, 'Jouw gegevens'));
  if (!profile) {
    box.append(h('p', {}, 'Je hebt je gegevens nog niet ingevuld.'),
      h('p', {}, h('a', { class: 'btn', href: '/start/geboortedatum' }, 'Vul je gegevens in')));
    return box;
  }
  box.append(
    h('p', {}, acc ? 'Deze gegevens staan op je telefoon en in je account. We gebruiken ze alleen voor je plan.'
      : 'Deze gegevens staan op je telefoon. We gebruiken ze alleen voor je plan.'),
    h('dl', { class: 'facts' },
      row('Geboortedatum', dateNl(profile.birth_date), 'geboortedatum'),
      row('Gemeente', profile.gemeente_naam || profile.gemeente_code, 'gemeente'),
      row('Waar je woont', profile.situation ? (situations.find((x) => x.id === profile.situation) || { label: profile.situation }).label : 'Niet ingevuld', 'wonen'),
      row('Vertrekdatum', profile.vertrekdatum ? dateNl(profile.vertrekdatum) : 'Weet ik nog niet', 'wonen'),
      asksFuture(profile) ? row('Waar je gaat wonen', profile.future_gemeente_code ? profile.future_gemeente_naam || profile.future_gemeente_code
        : profile.future_unknown ? 'Weet ik nog niet' : 'In dezelfde gemeente', 'na-vertrek') : null));
  return box;
}

export async function render(main) {
  const flash = takeFlash();
  const heading = h('h1', {}, 'Ik');
  main.append(heading);
  const [profile, acc, content] = await Promise.all([getProfile(), account(), loadContent().catch(() => null)]);
  if (!heading.isConnected) return;
  if (flash) main.append(h('p', { class: 'notice', role: 'status' }, flash));
  add(main, details(profile, acc, (content && content.situations) || []), profile && !(acc && acc.role === 'mentor') ? h('section', { 'aria-labelledby': 'ik-klaar' },
    h('h2', { id: 'ik-klaar' }, 'Klaar voor vertrek?'),
    h('p', {}, 'Zie of het belangrijkste geregeld is voordat je weggaat.'),
    h('p', {}, h('a', { class: 'btn btn-secondary', href: '/klaar' }, 'Bekijk wat geregeld is'))) : null, h('section', { 'aria-labelledby': 'ik-herinneringen' },
    h('h2', { id: 'ik-herinneringen' }, 'Herinneringen'),
    h('p', {}, 'Krijg een seintje als er een stap voor je klaarstaat.'),
    h('p', {}, h('a', { class: 'btn btn-secondary', href: '/ik/herinneringen' }, 'Herinneringen en berichten'))),
  acc && acc.role === 'mentor'
    ? h('section', { 'aria-labelledby': 'ik-meekijken' }, h('h2', { id: 'ik-meekijken' }, 'Meekijken'),
      h('p', {}, 'Bekijk hoe het gaat met de jongeren die jou uitnodigden.'),
      h('p', {}, h('a', { class: 'btn btn-secondary', href: '/meekijken' }, 'Naar meekijken')))
    : h('section', { 'aria-labelledby': 'ik-meekijken' }, h('h2', { id: 'ik-meekijken' }, 'Wie kijkt mee?'),
      h('p', {}, 'Laat iemand die je vertrouwt met je meekijken. Jij kiest wat die persoon ziet.'),
      h('p', {}, h('a', { class: 'btn btn-secondary', href: '/ik/meekijken' }, 'Wie kijkt mee?'))));

  const box = h('section', { 'aria-labelledby': 'ik-account' }, h('h2', { id: 'ik-account' }, 'Je account'));
  main.append(box);
  if (!acc) {
    box.append(
      h('p', {}, 'Met een account bewaar je je plan veilig. Ook als je telefoon kwijt is.'),
      h('p', {}, 'Je hebt alleen een gebruikersnaam en een wachtwoord nodig. Geen e-mail.'),
      h('div', { class: 'actions' },
        h('a', { class: 'btn', href: '/ik/account' }, 'Maak een account'),
        h('a', { class: 'btn btn-secondary', href: '/ik/inloggen' }, 'Inloggen')),
      h('p', {}, h('a', { href: '/ik/herstel' }, 'Wachtwoord vergeten? Gebruik je herstelcode')));
    main.append(h('p', {}, h('a', { href: '/privacy' }, 'Privacy: wat we bewaren en waarom')));
    return undefined;
  }

  const saved = h('p', { role: 'status' });
  const showPending = async () => {
    const n = await pendingCount();
    saved.textContent = n === 0 ? 'Alles is bewaard in je account.'
      : n === 1 ? '1 vinkje wacht nog op internet.' : `${n} vinkjes wachten nog op internet.`;
  };
  await showPending();
  const problem = h('p', { class: 'form-error', role: 'alert' });
  let busy = false;
  const logoutButton = (label, options, done) => h('div', { class: 'actions' }, h('button', {
    type: 'button', class: 'btn btn-secondary',
    onclick: async () => {
      if (busy) return;
      busy = true;
      problem.textContent = '';
      try {
        await logout(options);
        setFlash(done);
        navigate('/');
      } catch (err) {
        problem.textContent = err.status === 0 ? 'Je hebt nu geen internet. Uitloggen lukt alleen met internet.' : err.message;
      } finally { busy = false; }
    },
  }, label));
  box.append(
    h('p', {}, 'Je bent ingelogd als ', h('strong', {}, acc.display_name ? `${acc.display_name} (${acc.username})` : acc.username), '.'),
    saved,
    h('div', { class: 'actions' },
      h('a', { class: 'btn btn-secondary', href: '/ik/wachtwoord' }, 'Wachtwoord wijzigen')),
    h('h3', {}, 'Uitloggen'),
    h('p', {}, 'Deel je deze telefoon? Log dan uit als je klaar bent. Dan ziet de volgende niets van jou.'),
    problem,
    logoutButton('Uitloggen', {}, 'Je bent uitgelogd. Je gegevens staan niet meer op deze telefoon.'),
    h('p', {}, 'Ben je je telefoon kwijt? Log dan uit op al je apparaten.'),
    logoutButton('Uitloggen op al je apparaten', { everywhere: true }, 'Je bent uitgelogd op al je apparaten.'),
  );
  main.append(h('section', { 'aria-labelledby': 'ik-privacy' },
    h('h2', { id: 'ik-privacy' }, 'Je gegevens'),
    h('p', {}, 'Je mag altijd zien wat we over je bewaren. En je mag alles laten verwijderen.'),
    h('ul', { class: 'todos' },
      h('li', {}, h('a', { class: 'todo', href: '/api/me/export.html' }, h('span', { class: 'todo-title' }, 'Bekijk al je gegevens'))),
      h('li', {}, h('a', { class: 'todo', href: '/api/me/export', download: '' }, h('span', { class: 'todo-title' }, 'Download je gegevens als bestand'))),
      h('li', {}, h('a', { class: 'todo', href: '/privacy' }, h('span', { class: 'todo-title' }, 'Privacy: wat we bewaren en waarom'))),
      h('li', {}, h('a', { class: 'todo', href: '/ik/verwijderen' }, h('span', { class: 'todo-title' }, 'Verwijder je account'))))));
  events.addEventListener('change', showPending);
  return () => events.removeEventListener('change', showPending);
}
