/**
 * The string `format`s a `schema` / `tool_args` check validates: the ones OpenAI's Structured
 * Outputs accept (`date-time`, `time`, `date`, `duration`, `email`, `hostname`, `ipv4`, `ipv6`,
 * `uuid`) and `uri`. Other format names are not checked (they pass). Each is a plain function on
 * a bounded string (no pattern runs on more than {@link MAX_FORMAT_INPUT} characters), so a
 * hostile answer cannot make a check slow. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Longer strings are not of any of these formats (a URI may be longer: see `uri`). */
export const MAX_FORMAT_INPUT = 1_000;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

/** RFC 3339 full-date: 2025-02-29 is not a date. */
export function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= (mo === 2 && leap(y) ? 29 : DAYS[mo - 1]!);
}

/** RFC 3339 time, the offset optional unless `zone` (a leap second 60 allowed). */
export function isTime(s: string, zone = false): boolean {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(z|[+-](\d{2}):?(\d{2}))?$/i.exec(s);
  if (!m) return false;
  if (zone && m[4] === undefined) return false;
  if (m[5] !== undefined && (Number(m[5]) > 23 || Number(m[6]) > 59)) return false;
  return Number(m[1]) <= 23 && Number(m[2]) <= 59 && Number(m[3]) <= 60;
}

/** RFC 3339 date-time: a date, `T` (or a space), a time with its offset. */
export function isDateTime(s: string): boolean {
  const i = s.search(/[tT ]/);
  return i === 10 && isDate(s.slice(0, 10)) && isTime(s.slice(11), true);
}

const DURATION = /^P(?!$)(?:(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?|\d+W)$/;
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const UUID = /^(?:urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** RFC 1123 host name: labels of 1–63 letters, digits and inner hyphens, 253 characters in all. */
export function isHostname(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => HOST_LABEL.test(l));
}

/** An absolute URI: a scheme, then what the WHATWG parser takes. */
export function isUri(s: string): boolean {
  return s.length <= 8_192 && /^[a-z][a-z0-9+.-]*:/i.test(s) && URL.canParse(s);
}

const bounded =
  (f: (s: string) => boolean) =>
  (s: string): boolean =>
    s.length <= MAX_FORMAT_INPUT && f(s);

/** ajv's `formats` option: name → validator of a string. */
export const FORMATS: Record<string, (s: string) => boolean> = {
  date: bounded(isDate),
  time: bounded((s) => isTime(s)),
  'date-time': bounded(isDateTime),
  duration: bounded((s) => DURATION.test(s)),
  email: bounded((s) => s.length <= 320 && EMAIL.test(s)),
  hostname: bounded(isHostname),
  ipv4: bounded(isIPv4),
  ipv6: bounded(isIPv6),
  uuid: bounded((s) => UUID.test(s)),
  uri: isUri,
};
