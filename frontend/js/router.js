// History API router: intercepts same-origin links, loads one screen module per route,
// keeps aria-current and document.title right and moves focus to the new heading.

const APP = 'Startklaar';

let routes = [];
let notFound = null;
let main = null;
let current = null; // {path, route}
let token = 0;
// The page (path + query) the latest render is for, set before it starts: an in-page #anchor
// while a screen is still loading must not start that screen again.
let wanted = null;

function compile(pattern) {
  const keys = [];
  const re = pattern
    .replace(/\/+$/, '')
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/:(\w+)/g, (_, k) => { keys.push(k); return '([^/]+)'; });
  return { re: new RegExp('^' + (re || '') + '/?$'), keys };
}

function match(path) {
  for (const r of routes) {
    const m = r.matcher.re.exec(path);
    if (m) {
      const params = {};
      r.matcher.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return { route: notFound, params: {} };
}

/** Mark the links that point to the current place. */
function markCurrent(path) {
  for (const a of document.querySelectorAll('.tabs a, .crisis')) {
    const href = new URL(a.href).pathname;
    if (href === path || (href !== '/' && path.startsWith(href + '/'))) {
      a.setAttribute('aria-current', href === path ? 'page' : 'true');
    } else {
      a.removeAttribute('aria-current');
    }
  }
}

function failScreen(el) {
  el.replaceChildren();
  const h1 = document.createElement('h1');
  h1.textContent = 'Dit scherm laadt niet';
  const p = document.createElement('p');
  p.textContent = 'Dit lukt nu niet. Misschien heb je geen internet. Probeer het later nog een keer.';
  const a = document.createElement('a');
  a.href = '/nu-praten';
  a.textContent = 'Hulp nodig? Bel of chat nu.';
  el.append(h1, p, a);
}

async function render(path, { focus }) {
  const my = ++token;
  wanted = location.pathname + location.search;
  const { route, params } = match(path);
  let mod;
  try {
    mod = await route.load();
  } catch (err) {
    console.error(err);
    if (my !== token) return;
    failScreen(main);
    document.title = APP;
    markCurrent(path);
    return;
  }
  if (my !== token) return; // a newer navigation won
  if (current && current.cleanup) { try { current.cleanup(); } catch (e) { console.error(e); } }
  main.replaceChildren();
  let cleanup;
  try {
    cleanup = await mod.render(main, params);
  } catch (err) {
    console.error(err);
    failScreen(main);
  }
  if (my !== token) return;
  current = { path, key: location.pathname + location.search, route, cleanup: typeof cleanup === 'function' ? cleanup : null };
  const title = (typeof route.title === 'function' ? route.title(params) : route.title) || '';
  document.title = title ? `${title} · ${APP}` : APP;
  markCurrent(path);
  // The heading can take focus from script (not from Tab); that also tells axe/Safari that
  // the scrolling <main> has focusable content.
  const h1 = main.querySelector('h1');
  if (h1 && !h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
  if (focus) {
    (h1 || main).focus({ preventScroll: true });
    main.scrollTop = 0;
    window.scrollTo(0, 0);
  }
}

/** Go to a path inside the app (adds a history entry unless replace is true). */
export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, location.href);
  if (url.origin !== location.origin) { location.href = url.href; return; }
  const same = url.pathname === location.pathname && url.search === location.search;
  if (replace || same) history.replaceState(null, '', url.pathname + url.search + url.hash);
  else history.pushState(null, '', url.pathname + url.search + url.hash);
  return render(url.pathname, { focus: true });
}

/** Put the screen's filters in the address (for reload and back) without rendering again. */
export function setQuery(search) {
  history.replaceState(null, '', location.pathname + search);
  wanted = location.pathname + location.search;
  if (current) current.key = wanted;
}

function onClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download') || a.dataset.reload !== undefined) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return; // tel:, mailto:, other sites
  if (url.pathname.startsWith('/api/')) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return; // in-page
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

/**
 * start(mainElement, [{path: '/stappen/:id', title: 'Mijn stappen', load: () => import(...)}], fallback)
 * Each screen module exports render(main, params); it may return a cleanup function.
 */
export function start(el, table, fallback) {
  main = el;
  routes = table.map((r) => ({ ...r, matcher: compile(r.path) }));
  notFound = fallback;
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => {
    // Only a real change of page re-renders; an in-page #anchor (the skip link) does not.
    if (wanted !== location.pathname + location.search) render(location.pathname, { focus: true });
  });
  return render(location.pathname, { focus: false });
}
