import { KeyturnMetrics, METRIC, NO_CODE, OTHER, keyturnSeriesNames, type ClusterStats } from '@keyturn/metrics';

/** The value of the sample of `metric` with exactly these labels (besides app), in any order. */
function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  const want = JSON.stringify(Object.entries({ ...labels, app: 'test' }).sort());
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const have = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]);
    if (JSON.stringify(have.sort()) === want) return Number(m[3]);
  }
  return undefined;
}

const metricsOf = () => new KeyturnMetrics({ app: 'test', defaultMetrics: false });
const text = async (m: KeyturnMetrics) => (await m.exposition()).body;

const stats = (over: Partial<ClusterStats> = {}): ClusterStats => ({
  queueJobs: async () => [
    { queue: 'rotation', state: 'waiting', count: 3 },
    { queue: 'heartbeat', state: 'failed', count: 1 },
  ],
  secrets: async () => [
    { type: 'aws-iam-key', heartbeatStatus: 'success', count: 5 },
    { type: 'aws-iam-console-password', heartbeatStatus: 'not-supported', count: 2 },
  ],
  oldestKeyAgeSeconds: async () => 86_400,
  webhookBacklog: async () => 4,
  schedulerLagSeconds: async () => 1.5,
  discoveredKeys: async () => [
    { managed: true, status: 'Active', count: 2 },
    { managed: false, status: 'Inactive', count: 3 },
  ],
  oldestUnmanagedKeyAgeSeconds: async () => 7 * 86_400,
  ...over,
});

describe('KeyturnMetrics', () => {
  it('registers every Keyturn metric under its exact name, with Node default metrics unless turned off', async () => {
    const withDefaults = new KeyturnMetrics({ app: 'test' });
    withDefaults.registerClusterGauges(stats());
    const names = withDefaults.registry.getMetricsAsArray().map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining([...Object.values(METRIC), 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes']));
    expect(metricsOf().registry.getMetricsAsArray().map((m) => m.name)).not.toContain('process_cpu_user_seconds_total');
  });

  it('counts rotations by type, mode, outcome and catalogue code, and observes their duration', async () => {
    const m = metricsOf();
    m.rotationFinished({ type: 'aws-iam-key', mode: 'privileged', outcome: 'succeeded', seconds: 3 });
    m.rotationFinished({ type: 'aws-iam-key', mode: 'basic', outcome: 'failed', code: 'IAM_ACCESS_DENIED', seconds: 1 });
    m.rotationFinished({ type: 'aws-iam-console-password', mode: null, outcome: 'failed', code: 'not-a-catalogue-code' });
    const out = await text(m);
    expect(sample(out, 'keyturn_rotations_total', { type: 'aws-iam-key', mode: 'privileged', outcome: 'succeeded', code: NO_CODE })).toBe(1);
    expect(sample(out, 'keyturn_rotations_total', { type: 'aws-iam-key', mode: 'basic', outcome: 'failed', code: 'IAM_ACCESS_DENIED' })).toBe(1);
    expect(sample(out, 'keyturn_rotations_total', { type: 'aws-iam-console-password', mode: NO_CODE, outcome: 'failed', code: OTHER })).toBe(1);
    expect(sample(out, 'keyturn_rotation_duration_seconds_count', { type: 'aws-iam-key', mode: 'privileged' })).toBe(1);
  });

  it('never turns a value outside a label enum into a label: ids, user names and URLs become `other`', async () => {
    const m = metricsOf();
    const id = '0190f0c2-1d2e-7abc-8def-0123456789ab';
    m.rotationFinished({ type: id, mode: 'alice', outcome: 'failed', code: 'AKIAABCDEFGHIJKLMNOP' });
    m.heartbeatFinished(id);
    m.awsCall(`iam:GetUser/${id}`, 'success');
    m.awsCall('iam:CreateAccessKey', 'arn:aws:iam::123456789012:user/alice');
    m.awsCall('iam:DeleteAccessKey', 'toString');
    m.httpRequest('GET', `/v1/secrets/${id}?x=1`, 200, 0.01);
    m.httpRequest('BREW', undefined, 404, 0.01);
    const out = await text(m);
    expect(out).not.toMatch(/0190f0c2|alice|AKIA|arn:|123456789012/);
    expect(sample(out, 'keyturn_heartbeats_total', { outcome: OTHER })).toBe(1);
    expect(sample(out, 'keyturn_aws_calls_total', { operation: OTHER, outcome: 'success' })).toBe(1);
    expect(sample(out, 'keyturn_aws_calls_total', { operation: 'iam:CreateAccessKey', outcome: OTHER })).toBe(1);
    expect(sample(out, 'keyturn_aws_calls_total', { operation: 'iam:DeleteAccessKey', outcome: OTHER })).toBe(1);
    expect(sample(out, 'keyturn_http_request_duration_seconds_count', { method: OTHER, route: OTHER, status: '404' })).toBe(1);
  });

  it('keeps route templates, heartbeat outcomes, pacer waits and webhook outcomes', async () => {
    const m = metricsOf();
    m.httpRequest('POST', '/v1/secrets/:id/rotations', 202, 0.02);
    m.heartbeatFinished('unable-to-connect');
    m.pacerWaited(0.25);
    m.webhookDelivery('gave-up');
    const out = await text(m);
    expect(sample(out, 'keyturn_http_request_duration_seconds_count', { method: 'POST', route: '/v1/secrets/:id/rotations', status: '202' })).toBe(1);
    expect(sample(out, 'keyturn_heartbeats_total', { outcome: 'unable-to-connect' })).toBe(1);
    expect(sample(out, 'keyturn_aws_pacer_wait_seconds_sum', {})).toBe(0.25);
    expect(sample(out, 'keyturn_webhook_deliveries_total', { outcome: 'gave-up' })).toBe(1);
  });

  it('reads the cluster gauges at scrape time', async () => {
    const m = metricsOf();
    let backlog = 4;
    m.registerClusterGauges(stats({ webhookBacklog: async () => backlog }));
    let out = await text(m);
    expect(sample(out, 'keyturn_queue_jobs', { queue: 'rotation', state: 'waiting' })).toBe(3);
    expect(sample(out, 'keyturn_queue_jobs', { queue: 'heartbeat', state: 'failed' })).toBe(1);
    expect(sample(out, 'keyturn_secrets', { type: 'aws-iam-key', heartbeat_status: 'success' })).toBe(5);
    expect(sample(out, 'keyturn_secrets', { type: 'aws-iam-console-password', heartbeat_status: 'not-supported' })).toBe(2);
    expect(sample(out, 'keyturn_oldest_key_age_seconds', {})).toBe(86400);
    expect(sample(out, 'keyturn_webhook_backlog', {})).toBe(4);
    expect(sample(out, 'keyturn_scheduler_lag_seconds', {})).toBe(1.5);
    expect(sample(out, 'keyturn_discovered_keys', { managed: 'true', status: 'Active' })).toBe(2);
    expect(sample(out, 'keyturn_discovered_keys', { managed: 'false', status: 'Inactive' })).toBe(3);
    expect(sample(out, 'keyturn_oldest_unmanaged_key_age_seconds', {})).toBe(7 * 86400);
    backlog = 0;
    out = await text(m);
    expect(sample(out, 'keyturn_webhook_backlog', {})).toBe(0);
    expect(() => m.registerClusterGauges(stats())).toThrow(/already/);
  });

  it('a source that fails leaves its gauge without samples (NaN without labels); the scrape still answers', async () => {
    const m = metricsOf();
    const down = async (): Promise<never> => {
      throw new Error('connection refused');
    };
    m.registerClusterGauges(stats({ secrets: down, oldestKeyAgeSeconds: down }));
    const out = await text(m);
    expect(out).not.toMatch(/^keyturn_secrets\{/m);
    expect(sample(out, 'keyturn_oldest_key_age_seconds', {})).toBeNaN();
    expect(sample(out, 'keyturn_webhook_backlog', {})).toBe(4);
  });

  it('before any discovery run: no discovered-key samples, the oldest unmanaged key age unknown (NaN); a bad status is "other"', async () => {
    const m = metricsOf();
    m.registerClusterGauges(stats({ discoveredKeys: async () => [], oldestUnmanagedKeyAgeSeconds: async () => null }));
    const out = await text(m);
    expect(out).not.toMatch(/^keyturn_discovered_keys\{/m);
    expect(sample(out, 'keyturn_oldest_unmanaged_key_age_seconds', {})).toBeNaN();
    const n = metricsOf();
    n.registerClusterGauges(stats({ discoveredKeys: async () => [{ managed: false, status: 'AKIAXXXXXXXXXXXXXXXX', count: 1 }] }));
    expect(sample(await text(n), 'keyturn_discovered_keys', { managed: 'false', status: OTHER })).toBe(1);
  });

  it('lists the series a query can name: histograms with their _bucket, _sum and _count', () => {
    const names = keyturnSeriesNames();
    expect(names).toEqual(expect.arrayContaining(['keyturn_rotations_total', 'keyturn_rotation_duration_seconds_bucket', 'keyturn_http_request_duration_seconds_count']));
    expect(names).not.toContain('keyturn_rotations_total_count');
  });
});
