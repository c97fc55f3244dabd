import type { KeyturnConfig } from '@keyturn/config';
import type { DiscoveriesService } from '@keyturn/secrets';
import { DiscoveryScheduleService } from './discovery-schedule.service.js';

// KEYTURN_DISCOVERY_SCHEDULE: which fire time a tick starts a run for. The
// one-run-per-fire-time rule across replicas is the unique index (store spec, e2e).

const MIN = 60_000;

function schedule(cron: string | undefined) {
  const requested: [string, string, string][] = [];
  const discoveries = {
    requestScheduled: async (executorSecretId: string, pathPrefix: string, at: Date) => {
      requested.push([executorSecretId, pathPrefix, at.toISOString()]);
      return { id: `run-${requested.length}` };
    },
  } as unknown as DiscoveriesService;
  const config = { discovery: { schedule: cron, executorSecretId: 'exec-1', pathPrefix: '/eng/' } } as Pick<KeyturnConfig, 'discovery'>;
  return { svc: new DiscoveryScheduleService(discoveries, config), requested };
}

describe('DiscoveryScheduleService', () => {
  it('off without a schedule', async () => {
    const { svc, requested } = schedule(undefined);
    expect(await svc.fire(Date.now() + 10 * MIN)).toBeNull();
    expect(requested).toEqual([]);
  });

  it('fires each passed fire time once, the latest when several passed, and nothing before the first', async () => {
    const { svc, requested } = schedule('*/5 * * * *');
    const start = Date.now();
    const next = Math.ceil((start + 1) / (5 * MIN)) * 5 * MIN;
    expect(await svc.fire(next - 1)).toBeNull();
    expect(await svc.fire(next)).toBe('run-1');
    expect(await svc.fire(next + 1)).toBeNull();
    // Three fire times pass between two ticks: one run, for the latest.
    expect(await svc.fire(next + 15 * MIN + 30_000)).toBe('run-2');
    expect(requested).toEqual([
      ['exec-1', '/eng/', new Date(next).toISOString()],
      ['exec-1', '/eng/', new Date(next + 15 * MIN).toISOString()],
    ]);
  });
});
