// The device store (IndexedDB): profile, progress, outbox and cache. A tick is saved here first, so the
// screen changes at once (also offline); the outbox goes to the server when you are logged in and online.
import { get, post, put, del, clearOfflineCache, onUnauthorized } from './api.js';
import { todayIso, dayDiff, stamp } from './fmt.js';

const STORES = ['profile', 'progress', 'outbox', 'cache'];
const CLOSED = new Set(['done', 'not_for_me']);
const ORDER = { nu: 0, binnenkort: 1, later: 2, klaar: 3 };
const LABELS = { done: 'Klaar', not_for_me: 'Niet voor mij', skipped: 'Later bekijken' };
const RETRY_MS = 20000;

// --- IndexedDB, with a memory fallback (private mode, old browsers) -----------------------------------

const memory = new Map(STORES.map((s) => [s, new Map()]));
let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve) => {
      let req;
      try { req = indexedDB.open('startklaar', 1); } catch { resolve(null); return; }
      req.onupgradeneeded = () => {
        for (const s of STORES) if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
      };
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => { db.close(); dbPromise = null; };
        resolve(db);
      };
      req.onerror = () => resolve(null);
    });
  }
  return dbPromise;
}

function done(t) {
  return new Promise((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = t.onabort = () => reject(t.error);
  });
}

/** One value, or (without key) all of a store as {key: value}. */
async function read(store, key) {
  const db = await open();
  if (!db) {
    const m = memory.get(store);
    return key === undefined ? Object.fromEntries(m) : m.get(key);
  }
  const t = db.transaction(store);
  const s = t.objectStore(store);
  if (key !== undefined) {
    const r = s.get(key);
    await done(t);
    return r.result;
  }
  const keys = s.getAllKeys();
  const values = s.getAll();
  await done(t);
  return Object.fromEntries(keys.result.map((k, i) => [k, values.result[i]]));
}

/** Several writes in one transaction: [[store, 'put'|'del'|'clear', key, value], ...]. */
async function write(ops) {
  if (!ops.length) return;
  const db = await open();
  if (!db) {
    for (const [s, op, key, value] of ops) {
      const m = memory.get(s);
      if (op === 'put') m.set(key, value); else if (op === 'del') m.delete(key); else m.clear();
    }
    return;
  }
  const t = db.transaction([...new Set(ops.map((o) => o[0]))], 'readwrite');
  for (const [s, op, key, value] of ops) {
    const os = t.objectStore(s);
    if (op === 'put') os.put(value, key); else if (op === 'del') os.delete(key); else os.clear();
  }
  await done(t);
}

/** Remove sent outbox items, unless a newer tick replaced them meanwhile (same transaction: no race). */
async function removeSent(items) {
  const db = await open();
  const same = (cur, it) => cur && cur.client_id === it.client_id;
  if (!db) {
    const m = memory.get('outbox');
    for (const it of items) if (same(m.get(it.step_id), it)) m.delete(it.step_id);
    return;
  }
  const t = db.transaction('outbox', 'readwrite');
  const s = t.objectStore('outbox');
  for (const it of items) {
    const r = s.get(it.step_id);
    r.onsuccess = () => { if (same(r.result, it)) s.delete(it.step_id); };
  }
  await done(t);
}

// --- small helpers ------------------------------------------------------------------------------------

export const events = new EventTarget();
const emit = (type) => events.dispatchEvent(new Event(type));
const online = () => navigator.onLine !== false;

function newId() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const a = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(a); else for (let i = 0; i < 16; i++) a[i] = Math.random() * 256;
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The profile as the API wants it. */
export const apiProfile = (p) => ({
  birth_date: p.birth_date,
  gemeente_code: p.gemeente_code,
  vertrekdatum: p.vertrekdatum || null,
  situation: p.situation || null,
  future_gemeente_code: p.future_gemeente_code || null,
});

export const getProfile = () => read('profile', 'me');
/** Ask where you will live after leaving: with a vertrekdatum, or when you already live on your own. */
export const asksFuture = (p) => !!p.vertrekdatum || p.situation === 'zelfstandig';
/** Small things kept on this device until logout (the last list of help, the chosen gemeente). */
export const recall = (key) => read('cache', key);
export const remember = (key, value) => write([['cache', 'put', key, value]]);
export const account = () => read('cache', 'account');
export const pendingCount = async () => Object.keys(await read('outbox')).length;

async function states() {
  const out = {};
  for (const [k, v] of Object.entries(await read('progress'))) out[k] = v.state;
  return out;
}

// --- the plan -----------------------------------------------------------------------------------------

let planMem = null; // {plan, fetched_at}: the last plan, also kept in IndexedDB
let fresh = false; // fetched from the server during this visit, after the last profile change
let refreshing = null;

/** Bucket, overdue and label for one item, as the server works them out. */
function classify(state, due, today) {
  if (CLOSED.has(state)) return { bucket: 'klaar', overdue: false, label: LABELS[state] };
  if (state === 'skipped') return { bucket: 'later', overdue: false, label: LABELS.skipped };
  const days = dayDiff(today, due);
  if (days < 0) return { bucket: 'nu', overdue: true, label: 'Nog niet gedaan?' };
  if (days <= 14) return { bucket: 'nu', overdue: false, label: days === 0 ? 'Vandaag' : null };
  return { bucket: days <= 56 ? 'binnenkort' : 'later', overdue: false, label: null };
}

/** The plan with this device's ticks laid over it; buckets, order and counts worked out again. */
export function overlay(plan, progress, today = todayIso()) {
  const items = plan.items.map((it) => {
    const p = progress[it.progress_key] || (it.recurring ? progress[it.step_id] : null);
    const state = p ? p.state : it.state;
    return { ...it, state, ...classify(state, it.due_date, today) };
  });
  const closed = new Set(items.filter((i) => !i.recurring && CLOSED.has(i.state)).map((i) => i.step_id));
  for (const it of items) it.waiting_for = (it.waiting_for || []).filter((d) => !closed.has(d));
  items.sort((a, b) => ORDER[a.bucket] - ORDER[b.bucket] || (a.due_date < b.due_date ? -1 : a.due_date > b.due_date ? 1 : 0));
  const progressOut = plan.progress.map((g) => {
    const mine = items.filter((i) => i.leefgebied === g.leefgebied);
    return { ...g, done: mine.filter((i) => i.state === 'done').length, total: mine.filter((i) => i.state !== 'not_for_me').length };
  });
  return { ...plan, items, progress: progressOut, readiness: ready(plan.readiness, items) };
}

// Readiness with this phone's ticks, only what is sure (the server knows which step meets which need).
function ready(r, items) {
  if (!r || !r.areas) return r || null;
  const now = new Map();
  for (const i of items) if (!now.has(i.step_id)) now.set(i.step_id, i.state);
  const areas = r.areas.map((a) => {
    const list = a.items.map((x) => ({ ...x, state: now.get(x.step_id) || x.state }));
    const open = list.filter((x) => !CLOSED.has(x.state));
    const lost = list.filter((x, n) => a.items[n].state === 'done' && x.state !== 'done');
    const ok = (a.ready && !lost.length) || (!open.length && list.some((x) => x.state === 'done'));
    const next = ok ? null : open.find((x) => x.step_id === (a.next || {}).step_id) || open.find((x) => lost.includes(x)) || open[0];
    return { ...a, items: list, ready: ok, next: next && { step_id: next.step_id, title: next.title } };
  });
  return { ...r, areas, ready: areas.every((a) => a.ready) };
}

async function anonymousPlan(profile) {
  const body = { profile: apiProfile(profile), progress: await states() };
  try {
    return await post('/api/plan', body);
  } catch (err) {
    // A tick the server no longer knows (content changed) must not block the plan: ask without ticks.
    const keys = Object.keys(err.fields || {});
    if (err.status !== 422 || !keys.length || keys.some((k) => /birth_date|gemeente_code|vertrekdatum|situation/.test(k))) throw err;
    return post('/api/plan', { ...body, progress: {} });
  }
}

async function fetchPlan(profile) {
  if (await account()) {
    try {
      await sync();
      await mergeProgress(await get('/api/me/progress'), false);
      try {
        return await get('/api/me/plan');
      } catch (err) {
        if (err.status !== 404) throw err;
        await put('/api/me/profile', apiProfile(profile)); // the server has no profile yet: send this one
        return await get('/api/me/plan');
      }
    } catch (err) {
      if (err.status !== 401) throw err;
      // The login ended (loginEnded() has run): the device is empty now, or keeps a plan of its own.
      profile = await getProfile();
      if (!profile) return null;
    }
  }
  return anonymousPlan(profile);
}

function refresh(profile) {
  if (!refreshing) {
    refreshing = (async () => {
      const plan = await fetchPlan(profile);
      if (!plan) { planMem = null; return null; }
      planMem = { plan, fetched_at: new Date().toISOString() };
      fresh = true;
      await write([['cache', 'put', 'plan', planMem]]);
      return planMem;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/**
 * The plan to show: {profile, plan, offline, error}. plan is null without a profile (or when it could not
 * be made yet). Online it asks the server (a cached plan shows if that takes more than a few seconds).
 */
export async function loadPlan() {
  const profile = await getProfile();
  if (!profile) return { profile: null, plan: null };
  let offline = !online();
  let error = null;
  if (!planMem) planMem = (await read('cache', 'plan')) || null;
  if (!fresh && !offline) {
    const job = refresh(profile);
    job.catch(() => {});
    try {
      await (planMem ? Promise.race([job, new Promise((r) => setTimeout(r, 3000))]) : job);
    } catch (err) {
      if (err.status === 0) offline = true; else error = err;
    }
  }
  if (!(await getProfile())) return { profile: null, plan: null }; // emptied meanwhile: the login ended
  const plan = planMem ? overlay(planMem.plan, await read('progress')) : null;
  return { profile, plan, offline, error, fetched_at: planMem && planMem.fetched_at };
}

/** Tick a step (key = the item's progress_key): saved on the device at once, then synced. */
export async function tick(key, state) {
  const rec = { state, client_updated_at: new Date().toISOString(), client_id: newId() };
  const ops = [['progress', 'put', key, rec], ['outbox', 'put', key, { ...rec, step_id: key }]];
  if (planMem) {
    planMem = { ...planMem, plan: overlay(planMem.plan, { [key]: rec }) };
    ops.push(['cache', 'put', 'plan', planMem]);
  }
  await write(ops);
  emit('change');
  sync();
  return rec;
}

// --- sync ---------------------------------------------------------------------------------------------

let syncing = null;
let retryTimer = 0;

/** Send the outbox (and a changed profile) when logged in and online. Never throws. */
export function sync() {
  if (!syncing) syncing = doSync().catch(() => {}).finally(() => { syncing = null; });
  return syncing;
}

async function doSync() {
  clearTimeout(retryTimer);
  if (!online() || !(await account())) return;
  try {
    if (await read('cache', 'profile_dirty')) {
      const p = await getProfile();
      try {
        if (p) await put('/api/me/profile', apiProfile(p));
      } catch (err) {
        if (err.status === 0 || err.status === 401 || err.status >= 500) throw err;
      }
      await write([['cache', 'del', 'profile_dirty']]);
    }
    const box = Object.values(await read('outbox')).sort((a, b) => stamp(a.client_updated_at) - stamp(b.client_updated_at));
    for (let i = 0; i < box.length; i += 500) {
      const chunk = box.slice(i, i + 500);
      try {
        await post('/api/me/progress', chunk.map(({ step_id, state, client_updated_at, client_id }) => ({ step_id, state, client_updated_at, client_id })));
      } catch (err) {
        if (err.status !== 422) throw err; // 422: these items can never be saved; drop them
      }
      await removeSent(chunk); // also items the server refused (their `error`): they stay invalid
    }
  } catch { /* offline or a server error: try again later; a 401 went to loginEnded() */ }
  if ((await account()) && (await pendingCount())) retryTimer = setTimeout(sync, RETRY_MS);
  emit('change');
}

/** Newest client_updated_at wins per key; with upload, device-only and device-newer ticks go to the outbox. */
async function mergeProgress(rows, upload) {
  const local = await read('progress');
  const ops = [];
  const seen = new Set();
  for (const r of rows) {
    seen.add(r.step_id);
    const mine = local[r.step_id];
    const diff = mine ? stamp(r.client_updated_at) - stamp(mine.client_updated_at) : 1;
    if (diff > 0) ops.push(['progress', 'put', r.step_id, { state: r.state, client_updated_at: r.client_updated_at, client_id: r.client_id }]);
    else if (upload && diff < 0) ops.push(['outbox', 'put', r.step_id, { ...mine, step_id: r.step_id }]);
  }
  if (upload) for (const [k, v] of Object.entries(local)) if (!seen.has(k)) ops.push(['outbox', 'put', k, { ...v, step_id: k }]);
  await write(ops);
}

/** Does the server still know this login? A 401 goes to loginEnded(). */
function checkLogin() {
  account().then((acc) => { if (acc && online()) get('/api/me').catch(() => {}); }).catch(() => {});
}

/** Start syncing: now, when the connection comes back, and while ticks are waiting. Also checks the login. */
export function startSync() {
  window.addEventListener('online', () => { fresh = false; sync(); checkLogin(); });
  sync();
  checkLogin();
}

// --- profile ------------------------------------------------------------------------------------------

/**
 * Save the profile. Online the server checks it first (throws ApiError with Dutch `fields`); offline it is
 * kept on the device and sent later. Returns true when the server has seen it.
 */
export async function saveProfile(p) {
  const rec = { ...p, vertrekdatum: p.vertrekdatum || null, situation: p.situation || null, updated_at: new Date().toISOString() };
  const logged = await account();
  let checked = false;
  if (online()) {
    try {
      if (logged) await put('/api/me/profile', apiProfile(rec));
      else {
        planMem = { plan: await anonymousPlan(rec), fetched_at: new Date().toISOString() };
        await write([['cache', 'put', 'plan', planMem]]);
      }
      checked = true;
    } catch (err) {
      if (err.status !== 0 && err.status !== 401) throw err;
    }
  }
  const ops = [['profile', 'put', 'me', rec]];
  if (logged && !checked) ops.push(['cache', 'put', 'profile_dirty', true]);
  await write(ops);
  fresh = checked && !logged;
  return checked;
}

/** Check a birth date with the server's rules (and messages); null when it is fine. */
export async function checkBirthDate(birth_date) {
  try {
    await post('/api/plan', { profile: { birth_date, gemeente_code: '' }, progress: {} });
  } catch (err) {
    if (err.status === 0) throw err;
    return (err.fields || {}).birth_date || (err.fields || {})['profile.birth_date'] || null;
  }
  return null;
}

async function gemeenteNaam(code) {
  try {
    const g = (await get('/api/gemeenten')).find((x) => x.code === code);
    return g ? g.weergavenaam || g.naam : code;
  } catch { return code; }
}

// --- account ------------------------------------------------------------------------------------------

/** Bring the server and this device together after logging in or making an account. */
async function afterLogin(acc, isNew) {
  await write([['cache', 'put', 'account', acc]]);
  const local = await getProfile();
  let remote = null;
  if (!isNew) {
    try { remote = await get('/api/me/profile'); } catch (err) { if (err.status !== 404) throw err; }
  }
  if (remote && (!local || stamp(remote.updated_at) > stamp(local.updated_at))) {
    const naam = async (k) => (local && local[k + '_code'] === remote[k + '_code'] ? local[k + '_naam'] : remote[k + '_code'] && gemeenteNaam(remote[k + '_code']));
    await write([['profile', 'put', 'me', {
      ...apiProfile(remote), gemeente_naam: await naam('gemeente'), future_gemeente_naam: await naam('future_gemeente'), updated_at: remote.updated_at,
    }], ['cache', 'del', 'profile_dirty']]);
  } else if (local) {
    await write([['cache', 'put', 'profile_dirty', true]]);
  }
  await mergeProgress(isNew ? [] : await get('/api/me/progress'), true);
  fresh = false;
  await sync();
}

/** Make an account; this device's profile and all ticks go with it. Returns the recovery code (show once). */
export async function createAccount(body) {
  const res = await post('/api/accounts', body);
  try { await afterLogin(res.account, true); } catch { /* the outbox keeps everything; sync tries again */ }
  return res.recovery_code;
}

export async function login(username, password) {
  const res = await post('/api/session', { username, password });
  await afterLogin(res.account, false);
}

/** Wachtwoord vergeten: a new password with the recovery code. Returns the new recovery code. */
export async function recover(body) {
  const res = await post('/api/session/recover', body);
  try { await afterLogin(await get('/api/me'), false); } catch { /* logged in; sync tries again */ }
  return res.recovery_code;
}

export async function changePassword(current_password, new_password) {
  const res = await post('/api/me/password', { current_password, new_password });
  await write([['cache', 'put', 'account', res.account]]);
}

/** Log out and leave nothing behind on this phone. Throws ApiError(0) when offline. */
export async function logout({ everywhere = false } = {}) {
  leaving = true;
  try { await endSession(everywhere); } finally { leaving = false; }
}

async function endSession(everywhere) {
  await sync();
  try { // this phone stops getting this person's reminders (offline: logging out fails below anyway)
    const reg = navigator.serviceWorker && await navigator.serviceWorker.getRegistration();
    const sub = reg && reg.pushManager && await reg.pushManager.getSubscription();
    if (sub) {
      await del('/api/me/push-subscriptions', { body: { endpoint: sub.endpoint } }).catch((e) => { if (!e.status) throw e; });
      await sub.unsubscribe();
    }
  } catch { /* no push here */ }
  try {
    await del('/api/session', everywhere ? { params: { overal: 'true' } } : undefined);
  } catch (err) {
    if (err.status === 0) throw err; // without internet the login would stay valid
  }
  await clearDevice();
}

// --- when the login ends elsewhere ----------------------------------------------------------------------

let leaving = false; // logout() is running: it clears the device itself
let ending = null;

/**
 * A 401 while this device holds an account: has the login ended ("Uitloggen op al je apparaten" on another
 * phone, a new password, it ran out)? GET /api/me says so; a wrong password is a 401 too.
 *
 * What goes: the account, and everything that is also in the account (profile, ticks, plan). Whoever has
 * this phone now (it may be lost) sees nothing; logging in again brings it all back. The service worker
 * keeps no personal answers; its cache of public ones goes too, as on logout.
 * What stays: work that never reached the server (ticks in the outbox, a changed profile) is not thrown
 * away without a word. Then the profile, ticks and plan stay as a plan on this phone only, without the
 * account; the app says so, and the next login merges them into the account (afterLogin).
 */
function loginEnded(path, method) {
  if (!ending) ending = endLogin(path, method).finally(() => { ending = null; });
  return ending;
}

async function endLogin(path, method) {
  if (leaving || !(await account())) return;
  if (path !== '/api/me' || method !== 'GET') {
    let res;
    try {
      res = await fetch('/api/me', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    } catch { return; } // offline: find out later
    if (res.status !== 401) return;
  }
  const acc = await account();
  if (leaving || !acc) return;
  const ticks = await pendingCount();
  const waiting = ticks > 0 ? 'ticks' : (await read('cache', 'profile_dirty')) ? 'profile' : null;
  try { // this phone stops getting this person's reminders (the server drops the dead subscription later)
    const reg = navigator.serviceWorker && await navigator.serviceWorker.getRegistration();
    const sub = reg && reg.pushManager && await reg.pushManager.getSubscription();
    if (sub) await sub.unsubscribe();
  } catch { /* no push here */ }
  if (waiting) {
    await write([['cache', 'del', 'account']]);
    fresh = false;
    await clearOfflineCache();
  } else {
    await clearDevice();
  }
  events.dispatchEvent(new CustomEvent('login-ended', { detail: { kept: waiting, mentor: acc.role === 'mentor' } }));
}

onUnauthorized(loginEnded);

export async function clearDevice() {
  await write(STORES.map((s) => [s, 'clear']));
  planMem = null;
  fresh = false;
  contentMem = null;
  try { sessionStorage.clear(); } catch { /* not available */ }
  await clearOfflineCache();
  emit('change');
}

// --- content (fetched when a step page opens, then kept) ---------------------------------------------

let contentMem = null;
let revalidated = false;

async function fetchContent(version) {
  try {
    const data = await get('/api/content', { headers: version ? { 'If-None-Match': `"${version}"` } : {} });
    await write([['cache', 'put', 'content', data]]);
    contentMem = data;
  } catch (err) {
    if (err.status !== 304) throw err;
  }
  return contentMem;
}

/** The checklists and steps: from memory, the device, or the server. Throws ApiError when unavailable. */
export async function loadContent() {
  if (!contentMem) contentMem = (await read('cache', 'content')) || null;
  if (!contentMem) return fetchContent(null);
  if (!revalidated && online()) {
    revalidated = true;
    fetchContent(contentMem.version).catch(() => {});
  }
  return contentMem;
}

/** Fetch the content in the background (after the first screen), so step pages also work offline. */
export function prefetchContent() {
  if (navigator.connection && navigator.connection.saveData) return; // the person asked to save data
  const go = () => { if (online()) loadContent().catch(() => {}); };
  if ('requestIdleCallback' in window) requestIdleCallback(go, { timeout: 5000 }); else setTimeout(go, 2000);
}
