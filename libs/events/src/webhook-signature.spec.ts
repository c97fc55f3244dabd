import { Webhook } from 'standardwebhooks';
import { webhookHeaders } from './webhook-signature.js';

describe('webhookHeaders (Standard Webhooks)', () => {
  const key = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');
  const secret = `whsec_${key.toString('base64')}`;
  const body = JSON.stringify({ id: 'evt-1', type: 'rotation.succeeded', data: { rotationId: 'r-1' } });

  it('signs "id.timestamp.body" so an independent verifier accepts it', () => {
    const at = new Date();
    const h = webhookHeaders(key, 'evt-1', at, body);
    expect(h['webhook-id']).toBe('evt-1');
    expect(h['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(h['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, h)).toEqual(JSON.parse(body));
    expect(h['webhook-signature']).toBe(new Webhook(secret).sign('evt-1', at, body));
  });

  it('a different id or time gives a different signature for the same body', () => {
    const at = new Date(1_800_000_000_000);
    const a = webhookHeaders(key, 'evt-1', at, body)['webhook-signature'];
    expect(webhookHeaders(key, 'evt-2', at, body)['webhook-signature']).not.toBe(a);
    expect(webhookHeaders(key, 'evt-1', new Date(at.getTime() + 1_000), body)['webhook-signature']).not.toBe(a);
  });
});
