import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
export interface SigV4Authorization {
  accessKeyId: string;
  date: string; // yyyymmdd from the credential scope
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export interface SignedRequest {
  method: string;
  /** Raw request target as received, path plus optional query string. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type ParseResult = { ok: true; auth: SigV4Authorization } | { ok: false; message: string };

/** Parses the Authorization header; a malformed one is AWS's IncompleteSignature. */
export function parseAuthorization(header: string): ParseResult {
  const trimmed = header.trim();
  if (!trimmed.startsWith('AWS4-HMAC-SHA256 ')) {
    return { ok: false, message: `Unsupported AWS 'algorithm': '${trimmed.split(' ')[0] ?? ''}'` };
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((name) => !fields.get(name));
  if (missing.length > 0) {
    return { ok: false, message: missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' ') };
  }
  const scope = fields.get('Credential')!.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request') {
    return { ok: false, message: 'Credential should be scoped to a valid region, not a malformed credential scope.' };
  }
  const [accessKeyId, date, region, service] = scope as [string, string, string, string];
  return {
    ok: true,
    auth: {
      accessKeyId,
      date,
      region,
      service,
      signedHeaders: fields.get('SignedHeaders')!.split(';').map((h) => h.trim().toLowerCase()),
      signature: fields.get('Signature')!.toLowerCase(),
    },
  };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding, as SigV4 requires (encodeURIComponent leaves !'()* alone). */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Mirrors the SDK's path normalisation for services other than S3 (segments normalised, then encoded again). */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const normalized = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  const pairs: [string, string][] = [];
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    if (key.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([escapeUri(key), escapeUri(value)]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/**
 * Recomputes the SigV4 signature of a received request from the stored secret.
 * Returns a reason when the request does not verify; the reason is for the call log,
 * never sent back, since AWS answers with one fixed SignatureDoesNotMatch message.
 */
export function verifySignature(request: SignedRequest, auth: SigV4Authorization, secretAccessKey: string): string | undefined {
  const amzDate = headerValue(request.headers, 'x-amz-date') ?? headerValue(request.headers, 'date');
  if (!amzDate) return 'missing x-amz-date';
  if (!auth.signedHeaders.includes('host')) return 'host header not signed';
  if (amzDate.slice(0, 8) !== auth.date) return 'credential scope date differs from x-amz-date';

  const actualBodyHash = sha256Hex(request.body);
  const declaredHash = headerValue(request.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== 'UNSIGNED-PAYLOAD' && declaredHash !== actualBodyHash) {
    return 'x-amz-content-sha256 does not match the body';
  }
  const payloadHash = declaredHash ?? actualBodyHash;

  const queryAt = request.url.indexOf('?');
  const rawPath = queryAt >= 0 ? request.url.slice(0, queryAt) : request.url;
  const rawQuery = queryAt >= 0 ? request.url.slice(queryAt + 1) : '';

  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${(headerValue(request.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(rawPath),
    canonicalQuery(rawQuery),
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const expected = createHmac('sha256', signingKey(secretAccessKey, auth.date, auth.region, auth.service))
    .update(stringToSign, 'utf8')
    .digest('hex');

  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(auth.signature, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return 'signature mismatch';
  return undefined;
}
