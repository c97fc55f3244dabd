/**
 * A local HTTP endpoint that records every webhook delivery exactly as it
 * arrived (raw body bytes and headers), so tests can verify signatures with an
 * independent implementation of Standard Webhooks, and replay or tamper with a
 * captured delivery.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface Delivery {
  /** The exact bytes Keyturn sent, as a string (Standard Webhooks signs the raw body). */
  raw: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** The status this receiver answered. */
  answered: number;
}

export interface WebhookReceiver {
  url: string;
  received: Delivery[];
  /** Answer `status` to the next `count` deliveries whose body `match` accepts (then 204 again). */
  failNext(count: number, status: number, match?: (body: any) => boolean): void;
  close(): Promise<void>;
}

/** A secret in the Standard Webhooks form Keyturn requires: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export async function webhookReceiver(): Promise<WebhookReceiver> {
  const received: Delivery[] = [];
  let failing = 0;
  let failStatus = 503;
  let failMatch: (body: any) => boolean = () => true;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(raw);
      const fail = failing > 0 && failMatch(body);
      if (fail) failing -= 1;
      const answered = fail ? failStatus : 204;
      received.push({ raw, headers: req.headers, body, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}/hooks`,
    received,
    failNext: (count, status, match = () => true) => {
      failing = count;
      failStatus = status;
      failMatch = match;
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** The three Standard Webhooks headers of a delivery, as a verifier takes them. */
export function signatureHeaders(d: Delivery): Record<string, string> {
  return {
    'webhook-id': String(d.headers['webhook-id'] ?? ''),
    'webhook-timestamp': String(d.headers['webhook-timestamp'] ?? ''),
    'webhook-signature': String(d.headers['webhook-signature'] ?? ''),
  };
}
