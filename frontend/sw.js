// Startklaar service worker. Bump VERSION whenever a file in SHELL changes: that makes the
// browser install this worker again and fetch the new shell in one go.
// v8: API answers that depend on the login are no longer kept; activating deletes the v7 caches that held them.
// v9: Klaar voor vertrek? (screens/klaar.js), glossary and sources on the step page, where you will live.
const VERSION = 'v9';
const SHELL_CACHE = `startklaar-shell-${VERSION}`;
const API_CACHE = `startklaar-api-${VERSION}`;
const NAV_TIMEOUT_MS = 4000;

const SHELL = [
  '/index.html',
  '/manifest.webmanifest',
  '/css/app.css',
  '/js/app.js',
  '/js/router.js',
  '/js/api.js',
  '/js/dom.js',
  '/js/fmt.js',
  '/js/form.js',
  '/js/store.js',
  '/js/plan-ui.js',
  '/js/kaart.js',
  '/js/screens/vandaag.js',
  '/js/screens/onboarding.js',
  '/js/screens/stappen.js',
  '/js/screens/stap.js',
  '/js/screens/klaar.js',
  '/js/screens/account.js',
  '/js/screens/hulp.js',
  '/js/screens/dienst.js',
  '/js/screens/ik.js',
  '/js/screens/herinneringen.js',
  '/js/screens/meekijken.js',
  '/js/screens/mentor.js',
  '/js/screens/privacy.js',
  '/js/screens/nupraten.js',
  '/js/screens/notfound.js',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/icon-maskable-512.png',
  '/icons/apple-touch-icon.png',
];
const STATIC = /^\/(js|css|icons|fonts|img)\/|^\/manifest\.webmanifest$|^\/index\.html$/;
// The only API answers kept for offline use: the same for everyone (the gemeenten, the content, the sociale
// kaart). Every other answer under /api/ depends on who is logged in (profile, plan, progress, reminders,
// messages, sharing, mentor views, export ...) and never goes into Cache Storage: it would stay on the phone
// after logging out everywhere, or after the login ended on another phone. What the jongere entered herself
// lives in the app's own store (IndexedDB, js/store.js), which works offline and is emptied on logout.
// An allowlist, so that a new personal route is never kept by mistake.
const PUBLIC_API = /^\/api\/(gemeenten|content|kaart\/[^/]+\/services(\/[^/]+)?)$/;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    // cache: 'reload' skips the HTTP cache, so a new version never stores old files.
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const keep = new Set([SHELL_CACHE, API_CACHE]);
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith('startklaar-') && !keep.has(n)).map((n) => caches.delete(n)));
    if (names.includes(API_CACHE)) { // whatever an earlier worker of this version kept that is not public (any more)
      const api = await caches.open(API_CACHE);
      await Promise.all((await api.keys()).filter((r) => !PUBLIC_API.test(new URL(r.url).pathname)).map((r) => api.delete(r)));
    }
    if (self.registration.navigationPreload) {
      try { await self.registration.navigationPreload.enable(); } catch { /* not supported */ }
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'clear-api-cache') {
    event.waitUntil(caches.delete(API_CACHE));
  }
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return; // POST/PUT/PATCH/DELETE go straight to the network
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) {
    // Personal (and beheer) answers go straight to the network and are never kept; see PUBLIC_API.
    if (req.mode !== 'navigate' && PUBLIC_API.test(url.pathname)) event.respondWith(apiNetworkFirst(event));
    return;
  }
  if (req.mode === 'navigate') {
    event.respondWith(navigation(event));
    return;
  }
  if (STATIC.test(url.pathname)) event.respondWith(cacheFirst(event));
});

// Pages: network first (fresh HTML), the cached shell when offline or the network is too slow.
// The shell's router then renders the route (/stappen, /nu-praten ...).
async function navigation(event) {
  const network = (async () => (await event.preloadResponse) || fetch(event.request))();
  network.catch(() => {}); // handled below; avoid an unhandled rejection
  let timer;
  try {
    return await Promise.race([
      network,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), NAV_TIMEOUT_MS); }),
    ]);
  } catch {
    const cached = await caches.match('/index.html', { cacheName: SHELL_CACHE });
    if (cached) return cached;
    return network; // nothing cached yet: keep waiting for the network
  } finally {
    clearTimeout(timer);
  }
}

// App files: from the cache; a file that is not cached yet is fetched and kept.
async function cacheFirst(event) {
  const req = event.request;
  const cached = await caches.match(req, { cacheName: SHELL_CACHE });
  if (cached) return cached;
  const res = await fetch(req);
  if (res.ok && res.type === 'basic') {
    const copy = res.clone();
    event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.put(req, copy)));
  }
  return res;
}

// Public API reads: network first; the last good answer when offline. Answers marked
// Cache-Control: no-store or private are never kept (data the server wants kept off the phone).
async function apiNetworkFirst(event) {
  const req = event.request;
  try {
    const res = await fetch(req);
    if (res.ok && res.type === 'basic' && !/no-store|private/i.test(res.headers.get('Cache-Control') || '')) {
      const copy = res.clone();
      event.waitUntil(caches.open(API_CACHE).then((c) => c.put(req, copy)));
    }
    return res;
  } catch (err) {
    const cached = await caches.match(req, { cacheName: API_CACHE });
    if (cached) return cached;
    throw err;
  }
}

// Reminders. The payload {title, body, url, tag, id} shows on the lock screen, so it has no personal details.
// One tag per step: a newer reminder for a step replaces the older one.
const appPath = (u) => {
  try {
    const url = new URL(u, self.location.origin);
    return url.origin === self.location.origin ? url.pathname + url.search + url.hash : '/';
  } catch { return '/'; }
};

self.addEventListener('push', (event) => {
  let data = {};
  try { data = (event.data && event.data.json()) || {}; } catch { /* not JSON: show the default text */ }
  event.waitUntil(self.registration.showNotification(data.title || 'Startklaar', {
    body: data.body || 'Er staat een stap voor je klaar.',
    tag: data.tag || 'startklaar',
    icon: '/icons/icon-192.png',
    lang: 'nl',
    data: { url: appPath(data.url || '/'), id: data.id, kind: data.kind },
  }));
});

// A tap opens the step: in an open Startklaar window (the app routes there itself), or in a new one.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const url = new URL(appPath(data.url || '/'), self.location.origin);
  // The app marks the reminder or message read when it opens the page (it has the session's CSRF token).
  if (Number.isInteger(data.id) && (data.kind === 'reminder' || data.kind === 'message')) {
    url.searchParams.set('gelezen', `${data.kind === 'message' ? 'bericht' : 'herinnering'}-${data.id}`);
  }
  const open = url.pathname + url.search + url.hash;
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const win = wins.find((w) => w.focused) || wins[0];
    if (!win) return self.clients.openWindow(open);
    win.postMessage({ type: 'open', url: open });
    return win.focus();
  })());
});
