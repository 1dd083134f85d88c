// Privacy: what we keep, why, who sees it, how long, and how to take it with you or delete it.
import { h, setFlash } from '../dom.js';
import { navigate } from '../router.js';
import { del } from '../api.js';
import { field, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { account, clearDevice } from '../store.js';

const section = (id, title, ...body) => h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...body);
const list = (items) => h('ul', {}, items.map((t) => h('li', {}, t)));

export async function render(main) {
  main.append(
    h('h1', {}, 'Privacy'),
    h('p', { class: 'lead' }, 'Startklaar bewaart zo weinig mogelijk over jou. Hier lees je wat we bewaren en waarom.'),
    section('p-zonder', 'Zonder account',
      h('p', {}, 'Je gegevens blijven op je telefoon. Wij bewaren dan niets over jou.'),
      h('p', {}, 'Je telefoon vraagt wel je plan op. Je geboortedatum en gemeente gaan dan mee. We bewaren ze niet.')),
    section('p-wat', 'Wat bewaren we als je een account hebt?',
      list([
        'Je gebruikersnaam en je wachtwoord. Je wachtwoord is versleuteld. Niemand kan het lezen.',
        'Je voornaam of bijnaam, als je die invult.',
        'Je geboortedatum, je gemeente, waar je woont en je vertrekdatum. Die hebben we nodig voor je plan.',
        'Welke stappen je hebt gedaan.',
        'Je keuzes voor herinneringen, en het adres waar je telefoon pushberichten krijgt.',
        'Wie met je meekijkt, wat die persoon ziet en wanneer die keek.',
      ]),
      h('p', {}, h('strong', {}, 'We vragen nooit je BSN, je e-mail of je telefoonnummer.'))),
    section('p-waarom', 'Waarom?',
      h('p', {}, 'Alleen om je plan te maken, je herinneringen te sturen en te laten zien wat je deelt. We verkopen niets. We tonen geen reclame.')),
    section('p-wie', 'Wie ziet je gegevens?',
      list([
        'Jij.',
        'Iemand die jij uitnodigt om mee te kijken. Die ziet alleen je voornaam, je leeftijd en de onderwerpen die jij kiest. Nooit je geboortedatum.',
        'Jij ziet wanneer die persoon keek. Je kunt het meekijken altijd meteen stoppen.',
        'Beheerders van Startklaar alleen als dat nodig is om een fout op te lossen.',
      ])),
    section('p-hoelang', 'Hoe lang?',
      list([
        'Zolang je je account gebruikt.',
        'Gebruik je je account 2 jaar niet? Dan krijg je eerst een bericht. Log je dan niet in, dan verwijderen we je account na een maand.',
        'Verwijder je je account? Dan is alles meteen weg.',
      ])),
    section('p-zelf', 'Zelf regelen',
      h('p', {}, 'Op Ik kun je al je gegevens downloaden. Je kunt daar ook je account verwijderen.'),
      h('p', {}, h('a', { class: 'btn btn-secondary', href: '/ik' }, 'Naar Ik'))),
    section('p-vragen', 'Vragen of klachten?',
      h('p', {}, 'Vraag het aan de organisatie die Startklaar voor jou aanbiedt. Ben je het er niet mee eens? Dan kun je een klacht indienen bij de Autoriteit Persoonsgegevens.'),
      h('p', {}, h('a', { href: 'https://www.autoriteitpersoonsgegevens.nl', rel: 'noopener' }, 'Naar de Autoriteit Persoonsgegevens'))),
  );
}

export async function remove(main) {
  const heading = h('h1', {}, 'Verwijder je account');
  main.append(heading);
  const acc = await account();
  if (!heading.isConnected) return;
  if (!acc) {
    main.append(h('p', {}, 'Je bent niet ingelogd.'), h('p', {}, h('a', { href: '/ik/inloggen' }, 'Inloggen')));
    return;
  }
  const oidc = acc.username.startsWith('oidc-');
  const form = h('form', { novalidate: true },
    oidc
      ? field({ name: 'confirm', label: 'Typ VERWIJDER om te bevestigen', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' }).wrap
      : field({ name: 'password', label: 'Je wachtwoord', type: 'password', autocomplete: 'current-password', hint: 'Zo weten we zeker dat jij het bent.' }).wrap,
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn btn-danger', type: 'submit' }, 'Verwijder mijn account')));
  onSubmit(form, async () => {
    clearErrors(form);
    const v = Object.fromEntries(new FormData(form));
    try {
      await del('/api/me', { body: oidc ? { confirm: v.confirm } : { password: v.password } });
    } catch (err) {
      showErrors(form, err.status === 0 ? { message: 'Je hebt nu geen internet. Verwijderen lukt alleen met internet.' } : err);
      return;
    }
    try { // this phone's push subscription is gone on the server; drop it here too
      const reg = navigator.serviceWorker && await navigator.serviceWorker.getRegistration();
      const sub = reg && reg.pushManager && await reg.pushManager.getSubscription();
      if (sub) await sub.unsubscribe();
    } catch { /* no push here */ }
    await clearDevice();
    setFlash('Je account en al je gegevens zijn verwijderd.');
    navigate('/', { replace: true });
  });
  main.append(
    h('p', { class: 'lead' }, 'Alles wat we over jou bewaren, is dan meteen weg.'),
    h('ul', {}, ['Je plan en je vinkjes.', 'Je herinneringen en berichten.', 'Wie met je meekijkt.'].map((t) => h('li', {}, t))),
    h('p', {}, h('strong', {}, 'Dit kun je niet ongedaan maken.'), ' Wil je je gegevens eerst bewaren? ',
      h('a', { href: '/api/me/export.html' }, 'Bekijk al je gegevens'), '.'),
    form);
}
