// Account screens under Ik: make an account, log in, change your password, use your recovery code.
import { h, setFlash } from '../dom.js';
import { navigate } from '../router.js';
import { field, formError, showErrors, clearErrors, onSubmit } from '../form.js';
import { account, createAccount, login, recover, changePassword } from '../store.js';

const PASSWORD_HINT = 'Minstens 8 tekens. Een zin van een paar woorden is makkelijk te onthouden.';

function showPasswords(form) {
  const box = h('input', { type: 'checkbox', id: 'f-toon' });
  box.addEventListener('change', () => {
    for (const i of form.querySelectorAll('.pw')) i.type = box.checked ? 'text' : 'password';
  });
  return h('div', { class: 'choice' }, box, h('label', { for: 'f-toon' }, 'Laat mijn wachtwoord zien'));
}

const username = (hint) => field({
  name: 'username', label: 'Gebruikersnaam', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', hint,
}).wrap;
const password = (name, label, autocomplete, hint) => field({ name, label, type: 'password', autocomplete, hint, class: 'pw' }).wrap;

/** The recovery code, shown once, with a confirm step. */
function showCode(main, code, intro) {
  const heading = h('h1', { tabindex: '-1' }, 'Je herstelcode');
  const form = h('form', { novalidate: true });
  const ok = h('input', { type: 'checkbox', id: 'f-confirm', name: 'confirm', 'aria-describedby': 'f-confirm-err' });
  form.append(
    h('div', { class: 'field', 'data-field': 'confirm' },
      h('p', { class: 'field-error', id: 'f-confirm-err', role: 'alert' }),
      h('div', { class: 'choice' }, ok, h('label', { for: 'f-confirm' }, 'Ik heb de code opgeschreven'))),
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, 'Verder')));
  onSubmit(form, async () => {
    if (!ok.checked) {
      showErrors(form, { fields: { confirm: 'Schrijf eerst de code op. Zet daarna een vinkje.' } });
      return;
    }
    navigate('/ik', { replace: true });
  });
  main.replaceChildren(
    heading,
    h('p', { class: 'lead' }, intro),
    h('p', {}, h('strong', {}, 'Schrijf deze code op.'), ' Of maak er een foto van.'),
    h('p', { class: 'code' }, h('span', { class: 'vh' }, 'Jouw herstelcode: '), code),
    h('p', {}, 'Ben je je wachtwoord vergeten? Dan heb je deze code nodig. Je ziet de code maar één keer.'),
    form);
  document.title = 'Je herstelcode · Startklaar';
  heading.focus();
  main.scrollTop = 0;
}

const SCREENS = {
  account: {
    title: 'Maak een account',
    intro: 'Met een account bewaar je je plan veilig. Je kunt dan ook op een andere telefoon inloggen.',
    fields: (form) => [
      username('Je mag een verzonnen naam kiezen. Van 3 tot 32 tekens: letters, cijfers, punt of streepje.'),
      password('password', 'Wachtwoord', 'new-password', PASSWORD_HINT),
      showPasswords(form),
      field({ name: 'display_name', label: 'Je voornaam of bijnaam (mag leeg blijven)', autocomplete: 'nickname', hint: 'Dit ziet je mentor, als je die later uitnodigt.' }).wrap,
    ],
    button: 'Maak mijn account',
    async send(v, main) {
      const code = await createAccount({ username: v.username, password: v.password, display_name: v.display_name || null });
      setFlash('Je account is klaar. Je plan en je vinkjes staan nu veilig in je account.');
      showCode(main, code, 'Je account is klaar. Je krijgt nu een herstelcode.');
    },
  },
  inloggen: {
    title: 'Inloggen',
    intro: 'Log in met je gebruikersnaam en wachtwoord.',
    fields: (form) => [username(), password('password', 'Wachtwoord', 'current-password'), showPasswords(form)],
    button: 'Inloggen',
    async send(v) {
      await login(v.username, v.password);
      setFlash('Je bent ingelogd.');
      navigate('/');
    },
    after: () => [
      h('p', {}, h('a', { href: '/ik/herstel' }, 'Wachtwoord vergeten? Gebruik je herstelcode')),
      h('p', {}, 'Nog geen account? ', h('a', { href: '/ik/account' }, 'Maak een account')),
    ],
  },
  wachtwoord: {
    title: 'Wachtwoord wijzigen',
    intro: 'Kies een nieuw wachtwoord. Je blijft ingelogd op deze telefoon.',
    needsLogin: true,
    fields: (form) => [
      password('current_password', 'Je huidige wachtwoord', 'current-password'),
      password('new_password', 'Je nieuwe wachtwoord', 'new-password', PASSWORD_HINT),
      showPasswords(form),
    ],
    button: 'Wijzig mijn wachtwoord',
    async send(v) {
      await changePassword(v.current_password, v.new_password);
      setFlash('Je wachtwoord is gewijzigd.');
      navigate('/ik');
    },
  },
  herstel: {
    title: 'Wachtwoord vergeten',
    intro: 'Heb je je herstelcode nog? Dan kies je hier een nieuw wachtwoord.',
    fields: (form) => [
      username(),
      field({ name: 'recovery_code', label: 'Herstelcode', hint: 'Bijvoorbeeld: ABCD-EFGH-JKLM-NPQR.', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' }).wrap,
      password('new_password', 'Je nieuwe wachtwoord', 'new-password', PASSWORD_HINT),
      showPasswords(form),
    ],
    button: 'Kies mijn nieuwe wachtwoord',
    async send(v, main) {
      const code = await recover({ username: v.username, recovery_code: v.recovery_code, new_password: v.new_password });
      setFlash('Je nieuwe wachtwoord werkt. Je bent ingelogd.');
      showCode(main, code, 'Je bent weer ingelogd. Je krijgt een nieuwe herstelcode. De oude werkt niet meer.');
    },
    after: () => [h('p', { class: 'muted' }, 'Ben je ook je herstelcode kwijt? Dan kunnen we je account niet terughalen. Maak dan een nieuw account.')],
  },
};

export async function render(main, { actie }) {
  const screen = SCREENS[actie];
  if (!screen) {
    main.append(h('h1', {}, 'Deze pagina bestaat niet'), h('p', {}, h('a', { href: '/ik' }, 'Ga naar Ik')));
    return;
  }
  const heading = h('h1', {}, screen.title);
  main.append(heading);
  const acc = await account();
  if (!heading.isConnected) return;
  if (!!acc !== !!screen.needsLogin) {
    main.append(
      h('p', {}, acc ? `Je bent al ingelogd als ${acc.username}.` : 'Log eerst in.'),
      h('p', {}, h('a', { href: acc ? '/ik' : '/ik/inloggen' }, acc ? 'Ga naar Ik' : 'Inloggen')));
    return;
  }
  const form = h('form', { novalidate: true });
  form.append(...screen.fields(form), formError(),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit' }, screen.button)));
  onSubmit(form, async () => {
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form));
    try {
      await screen.send(values, main);
    } catch (err) {
      showErrors(form, err);
    }
  });
  main.append(h('p', { class: 'lead' }, screen.intro), form, ...(screen.after ? screen.after() : []));
}
