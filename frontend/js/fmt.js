// Dates in Dutch and small date sums. Dates are "YYYY-MM-DD" strings, as the API sends them.
const MONTHS = ['januari', 'februari', 'maart', 'april', 'mei', 'juni', 'juli', 'augustus', 'september',
  'oktober', 'november', 'december'];

const pad = (n) => String(n).padStart(2, '0');

/** Today on this device, as "YYYY-MM-DD". */
export function todayIso(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function utc(iso) {
  const [y, m, d] = String(iso).slice(0, 10).split('-').map(Number);
  return Date.UTC(y, m - 1, d);
}

/** Days from a to b (both "YYYY-MM-DD"). */
export const dayDiff = (a, b) => Math.round((utc(b) - utc(a)) / 864e5);

/** "2027-03-12" -> "12 maart 2027". */
export function dateNl(iso) {
  if (!iso) return '';
  const [y, m, d] = String(iso).slice(0, 10).split('-').map(Number);
  return `${d} ${MONTHS[m - 1]} ${y}`;
}

/** A real date "YYYY-MM-DD" (also accepts "DD-MM-YYYY" from browsers without a date picker), or null. */
export function parseDate(text) {
  const s = String(text || '').trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  let y, mo, d;
  if (m) [, y, mo, d] = m.map(Number);
  else if ((m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(s))) [, d, mo, y] = m.map(Number);
  else return null;
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return `${y}-${pad(mo)}-${pad(d)}`;
}

/** Age in whole years on a day. */
export function ageOn(birth, on) {
  const [by, bm, bd] = birth.split('-').map(Number);
  const [y, m, d] = on.split('-').map(Number);
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** Server timestamps always carry a zone; treat one without as UTC, never as local time. */
export function stamp(s) {
  const t = String(s || '');
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : t + 'Z') || 0;
}
