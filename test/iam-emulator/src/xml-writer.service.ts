/**
 * A tiny XML writer for the AWS Query protocol. Arrays become `<member>` lists and
 * `XmlEntries` become `<entry><key/><value/></entry>` maps, which is how IAM and STS
 * serialize lists and maps; the SDK's deserializer expects exactly these shapes.
 */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlValue[] | XmlRecord | XmlEntries;
export interface XmlRecord {
  [key: string]: XmlValue;
}

export class XmlEntries {
  constructor(readonly entries: ReadonlyArray<readonly [string, XmlValue]>) {}
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** AWS writes timestamps as ISO 8601 in UTC without milliseconds. */
function isoDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function renderValue(value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return isoDate(value);
  if (value instanceof XmlEntries) {
    return value.entries.map(([k, v]) => `<entry><key>${escapeXml(k)}</key><value>${renderValue(v)}</value></entry>`).join('');
  }
  if (Array.isArray(value)) return value.map((item) => `<member>${renderValue(item)}</member>`).join('');
  if (typeof value === 'object') return renderRecord(value);
  return escapeXml(String(value));
}

function renderRecord(record: XmlRecord): string {
  let out = '';
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined || value === null) continue;
    out += `<${key}>${renderValue(value)}</${key}>`;
  }
  return out;
}

export function successXml(action: string, namespace: string, requestId: string, result: XmlRecord | undefined): string {
  const body = result === undefined ? '' : `<${action}Result>${renderRecord(result)}</${action}Result>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<${action}Response xmlns="${namespace}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function errorXml(namespace: string, requestId: string, type: 'Sender' | 'Receiver', code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
