/**
 * If-None-Match as RFC 9110 §13.1.2 evaluates it at the origin: true when the
 * header is `*` or lists the current tag (weak comparison: `W/` is ignored).
 *
 * Written here rather than taken from `fresh` (the Express helper): `fresh`
 * also answers "modified" whenever the request says `Cache-Control: no-cache`,
 * which fetch() adds to every conditional request, so no fetch-based poller
 * would ever get a 304.
 */
export function noneMatchHolds(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const header = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch;
  if (header.trim() === '*') return true;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() !== '' && opaque(t) === opaque(etag));
}
