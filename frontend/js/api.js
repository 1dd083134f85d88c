// Small fetch wrapper for the Startklaar API: JSON in and out, same-origin cookies,
// a CSRF token on every request that changes something, Dutch error messages.

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ApiError extends Error {
  constructor(status, message, detail = null, fields = {}, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 = no connection
    this.detail = detail; // the raw `detail` from the server, if any
    this.fields = fields; // {veldnaam: 'Nederlandse melding'} for 422 answers
    this.body = body; // the whole JSON answer (such as an upload's report)
  }
}

export function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const i = part.indexOf('=');
    if (i > -1 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

function messageFrom(status, data) {
  const detail = data && typeof data === 'object' ? data.detail : null;
  if (typeof detail === 'string' && detail) return detail;
  if (data && typeof data.message === 'string' && data.message) return data.message;
  if (detail && typeof detail === 'object' && !Array.isArray(detail) && typeof detail.message === 'string') {
    return detail.message;
  }
  if (Array.isArray(detail) && detail.length === 1 && typeof detail[0].msg === 'string') return detail[0].msg;
  if (status === 401) return 'Je bent niet ingelogd. Log eerst in.';
  if (status === 403) return 'Dit mag je niet doen.';
  if (status === 404) return 'Dit kunnen we niet vinden.';
  if (status === 422 || status === 400) return 'Niet alles is goed ingevuld. Kijk nog eens naar wat je invulde.';
  if (status === 429) return 'Even te veel tegelijk. Probeer het zo nog een keer.';
  return 'Er ging iets mis. Probeer het later nog een keer.';
}

// Told about every 401 answer (store.js decides whether the login really ended); awaited before the error
// is thrown, so that whatever runs next finds the device already as it should be.
let unauthorized = null;
export function onUnauthorized(fn) { unauthorized = fn; }

/**
 * api('/api/thing', {method: 'POST', body: {...}, params: {q: 'x'}, signal})
 * Resolves with the parsed JSON (or null for an empty answer); throws ApiError.
 */
export async function api(path, { method = 'GET', body, params, headers = {}, signal } = {}) {
  method = method.toUpperCase();
  let url = path;
  if (params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) qs.append(k, v);
    const s = qs.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const h = { Accept: 'application/json', ...headers };
  let payload;
  if (body !== undefined) {
    if (body instanceof FormData || body instanceof Blob || typeof body === 'string') {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      h['Content-Type'] = 'application/json';
    }
  }
  if (!SAFE.has(method)) {
    const token = readCookie('sk_csrf');
    if (token) h['X-CSRF-Token'] = token;
  }

  let res;
  try {
    res = await fetch(url, { method, headers: h, body: payload, credentials: 'same-origin', signal });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'Geen verbinding. Heb je internet? Probeer het later nog een keer.');
  }

  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (res.status !== 204 && type.includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401 && unauthorized) {
      try { await unauthorized(url.split('?')[0], method); } catch { /* the error below still goes to the caller */ }
    }
    const body = data && typeof data === 'object' ? data : {};
    const fields = body.fields && typeof body.fields === 'object' ? body.fields : {};
    throw new ApiError(res.status, messageFrom(res.status, body), body.detail ?? null, fields, body);
  }
  return data;
}

export const get = (path, opts) => api(path, { ...opts, method: 'GET' });
export const post = (path, body, opts) => api(path, { ...opts, method: 'POST', body });
export const put = (path, body, opts) => api(path, { ...opts, method: 'PUT', body });
export const patch = (path, body, opts) => api(path, { ...opts, method: 'PATCH', body });
export const del = (path, opts) => api(path, { ...opts, method: 'DELETE' });

/**
 * Forget the service worker's cached API answers (call on logout). It keeps only public answers (the
 * gemeenten, content, the sociale kaart), but the searches in them say something about you too.
 */
export async function clearOfflineCache() {
  if (!('caches' in self)) return;
  const keys = await caches.keys();
  await Promise.all(keys.filter((k) => k.startsWith('startklaar-api-')).map((k) => caches.delete(k)));
}
