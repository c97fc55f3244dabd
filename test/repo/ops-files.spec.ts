import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { numericSettings } from '@keyturn/config';
import { KeyturnMetrics, METRIC, keyturnSeriesNames } from '@keyturn/metrics';

// docker/compose.yml, the image's HEALTHCHECK, docker/prometheus and docker/grafana are read by
// people and by Docker, Prometheus and Grafana, never by Keyturn's code: this keeps them true to it.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const yamlFile = (path: string) => parse(read(path), { merge: true });

const APPS = ['secrets-api', 'rotation-worker', 'heartbeat-scheduler'] as const;
type App = (typeof APPS)[number];
const defaults = Object.fromEntries(numericSettings().map((s) => [s.name, s.default]));

/** The setting that names the port of each app's own listener, as its main.ts passes it (the API's is PORT). */
function portSettingOf(app: App): string {
  if (app === 'secrets-api') return 'PORT';
  const m = /portSetting: '(\w+)'/.exec(read(`apps/${app}/src/main.ts`));
  if (!m) throw new Error(`apps/${app}/src/main.ts names no portSetting`);
  return m[1]!;
}

/** Every series name a process of Keyturn exports: Keyturn's own and Node's default metrics, histograms expanded. */
function exportedNames(): Set<string> {
  const m = new KeyturnMetrics({ app: 'repo-check' });
  const names = new Set<string>(keyturnSeriesNames());
  for (const metric of m.registry.getMetricsAsArray()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  return names;
}
/** Series Prometheus itself makes for every target. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (not functions, label names, keywords, strings or durations). */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const rest = stripped.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    // A number's exponent (1e3) or a duration's unit is not a name.
    if (m.index! > 0 && /[\d.]/.test(stripped[m.index! - 1]!)) continue;
    names.add(m[0]);
  }
  return [...names];
}

describe('metricNamesIn', () => {
  it('finds the selected metrics only', () => {
    expect(
      metricNamesIn('histogram_quantile(0.95, sum by (le, route) (rate(keyturn_http_request_duration_seconds_bucket{route!="x"}[5m]))) > 90 * 86400 and on (app) up'),
    ).toEqual(['keyturn_http_request_duration_seconds_bucket', 'up']);
  });
});

describe('docker/compose.yml', () => {
  const compose = yamlFile('docker/compose.yml');
  const services = compose.services as Record<string, any>;

  it('runs each app from one shared build of the image', () => {
    const builds = [...APPS, 'migrate'].map((s) => JSON.stringify([services[s].build, services[s].image]));
    expect(new Set(builds).size).toBe(1);
    expect(services['secrets-api'].build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    // One definition in the file (a YAML anchor), not a copy per service.
    expect(read('docker/compose.yml').match(/dockerfile: docker\/Dockerfile/g)).toHaveLength(1);
  });

  it('publishes ports on 127.0.0.1 unless KEYTURN_PUBLISH_HOST says otherwise', () => {
    const published = Object.entries(services).flatMap(([name, s]) => ((s.ports ?? []) as string[]).map((p) => [name, p]));
    expect(published.length).toBeGreaterThan(0);
    for (const [name, p] of published) expect([name, p]).toEqual([name, expect.stringMatching(/^(127\.0\.0\.1|\$\{KEYTURN_PUBLISH_HOST:-127\.0\.0\.1\}):\d+:\d+$/)]);
  });

  it('passes the webhook settings to every app', () => {
    for (const app of APPS) {
      expect([app, Object.keys(services[app].environment)]).toEqual([app, expect.arrayContaining(['KEYTURN_WEBHOOK_URLS', 'KEYTURN_WEBHOOK_SECRET'])]);
    }
  });

  it('gives SIGTERM longer than the verify window and the shutdown timeout', () => {
    const seconds = (v: string) => {
      const m = /^(\d+)(s|m)$/.exec(v);
      if (!m) throw new Error(`stop_grace_period ${v}: expected a number of s or m`);
      return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
    };
    for (const app of APPS) {
      const env = services[app].environment as Record<string, string>;
      const verifyMs = Number(env.KEYTURN_VERIFY_WINDOW_MS ?? defaults.KEYTURN_VERIFY_WINDOW_MS);
      const shutdownMs = Number(env.KEYTURN_SHUTDOWN_TIMEOUT_MS ?? defaults.KEYTURN_SHUTDOWN_TIMEOUT_MS);
      expect([app, seconds(services[app].stop_grace_period) * 1000]).toEqual([app, expect.any(Number)]);
      expect(seconds(services[app].stop_grace_period) * 1000).toBeGreaterThan(Math.max(verifyMs, shutdownMs));
    }
  });
});

describe('the image HEALTHCHECK', () => {
  const dockerfile = read('docker/Dockerfile');
  const script = read('docker/healthcheck.sh');
  const compose = yamlFile('docker/compose.yml');

  it('runs docker/healthcheck.sh', () => {
    expect(dockerfile).toMatch(/^COPY .*docker\/healthcheck\.sh \/usr\/local\/bin\/keyturn-healthcheck$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD \["\/usr\/local\/bin\/keyturn-healthcheck"\]$/m);
  });

  it.each(APPS)('%s: asks its own listener, on the port its setting gives it in the image and in compose', (app) => {
    const setting = portSettingOf(app);
    const m = new RegExp(`^\\s*${app}\\) port="\\$\\{(\\w+):-(\\d+)\\}" ;;$`, 'm').exec(script);
    expect(m && [m[1], Number(m[2])]).toEqual([setting, defaults[setting]]);
    expect(dockerfile).toMatch(new RegExp(`\\b${setting}=${defaults[setting]}\\b`));
    const env = compose.services[app].environment as Record<string, string>;
    expect(Number(env[setting] ?? defaults[setting])).toBe(defaults[setting]);
  });
});

describe('docker/prometheus', () => {
  const config = yamlFile('docker/prometheus/prometheus.yml');
  const rules = yamlFile('docker/prometheus/alerts.yml');
  const compose = yamlFile('docker/compose.yml');
  const exported = exportedNames();

  it.each(APPS)('scrapes %s on the port of its listener', (app) => {
    const job = (config.scrape_configs as any[]).find((j) => j.job_name === app);
    const env = compose.services[app].environment as Record<string, string>;
    const setting = portSettingOf(app);
    expect(job.dns_sd_configs[0]).toMatchObject({ names: [app], port: Number(env[setting] ?? defaults[setting]) });
  });

  it('loads the rule file, whose every rule names only metrics Keyturn exports', () => {
    expect(config.rule_files).toEqual(['alerts.yml']);
    const exprs = (rules.groups as any[]).flatMap((g) => g.rules.map((r: { alert: string; expr: string }) => [r.alert, String(r.expr)]));
    expect(exprs.length).toBeGreaterThan(0);
    for (const [alert, expr] of exprs) {
      const names = metricNamesIn(expr);
      expect([alert, names.length > 0]).toEqual([alert, true]);
      expect([alert, names.filter((n) => !exported.has(n) && !PROMETHEUS_SERIES.has(n))]).toEqual([alert, []]);
    }
  });

  it('alerts on failing heartbeats, failed rotations, key age, scheduler lag and queue backlog', () => {
    const exprs = (rules.groups as any[]).flatMap((g) => g.rules.map((r: { expr: string }) => String(r.expr)));
    const alerting = (metric: string, also: RegExp) => exprs.some((e) => metricNamesIn(e).includes(metric) && also.test(e));
    expect(alerting(METRIC.secrets, /heartbeat_status=~?"[^"]*failed/)).toBe(true);
    expect(alerting(METRIC.rotations, /outcome="failed"/)).toBe(true);
    expect(alerting(METRIC.oldestKeyAge, />/)).toBe(true);
    expect(alerting(METRIC.schedulerLag, />/)).toBe(true);
    expect(alerting(METRIC.queueJobs, /state="waiting"/)).toBe(true);
  });
});

describe('docker/grafana', () => {
  const dashboard = JSON.parse(read('docker/grafana/dashboards/keyturn.json'));
  const datasources = yamlFile('docker/grafana/provisioning/datasources/prometheus.yml');
  const exported = exportedNames();
  const targets = (dashboard.panels as any[]).flatMap((p) => (p.targets ?? []).map((t: { expr: string }) => [p.title, t.expr] as const));

  it('queries only metrics Keyturn exports, through the provisioned data source', () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const [title, expr] of targets) expect([title, metricNamesIn(expr).filter((n) => !exported.has(n))]).toEqual([title, []]);
    const uid = datasources.datasources[0].uid;
    for (const p of dashboard.panels as any[]) expect([p.title, p.datasource.uid]).toEqual([p.title, uid]);
  });

  it('shows every Keyturn metric somewhere', () => {
    const used = new Set(targets.flatMap(([, expr]) => metricNamesIn(expr)).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(Object.values(METRIC).filter((m) => !used.has(m))).toEqual([]);
  });
});
