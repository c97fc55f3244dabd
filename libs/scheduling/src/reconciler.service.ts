import { Inject, Injectable, Logger } from '@nestjs/common';
import { JobName, type JobPayloads } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { DiscoveriesRepository, HeartbeatsRepository, RotationsRepository } from '@keyturn/store';
import { JobProducer, QUEUE_OF } from '@keyturn/queue';
import { discoveryJobId, heartbeatJobId, rotationJobId } from '@keyturn/secrets';

const LIVE_STATES = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

/**
 * Postgres is the truth; Redis may lose every job. Rows whose work is
 * unfinished and that have no live job (Redis flushed or restarted, an enqueue
 * that failed) get their job back. A row whose job is alive is left alone.
 */
@Injectable()
export class ReconcilerService {
  private readonly logger = new Logger('Reconciler');

  constructor(
    private readonly rotationRows: RotationsRepository,
    private readonly heartbeatRows: HeartbeatsRepository,
    private readonly discoveryRows: DiscoveriesRepository,
    private readonly jobs: JobProducer,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  async reconcile(): Promise<{ rotations: number; heartbeats: number; discoveries: number }> {
    const after = `${this.config.heartbeat.reconcileAfterMs} milliseconds`;
    // The account rides along in the job, for the workers' fair share across accounts.
    const rotations = await this.rotationRows.unfinished(after);
    const heartbeats = await this.heartbeatRows.unfinished(after);
    let r = 0;
    let h = 0;
    for (const { id, account_id } of rotations) if (await this.revive(JobName.RunRotation, rotationJobId(id), { rotationId: id, accountId: account_id })) r++;
    for (const { id, account_id } of heartbeats) if (await this.revive(JobName.RunHeartbeat, heartbeatJobId(id), { heartbeatId: id, accountId: account_id })) h++;
    // A discovery run left by a dead worker (lease lapsed) or never enqueued resumes from its journal.
    let d = 0;
    for (const { id, account_id } of await this.discoveryRows.unfinished(after)) {
      if (await this.revive(JobName.RunDiscovery, discoveryJobId(id), { discoveryId: id, ...(account_id ? { accountId: account_id } : {}) })) d++;
    }
    if (r || h || d) this.logger.log(`re-enqueued ${r} rotation(s), ${h} heartbeat(s) and ${d} discovery run(s) whose job was lost`);
    return { rotations: r, heartbeats: h, discoveries: d };
  }

  private async revive<N extends JobName>(name: N, jobId: string, data: JobPayloads[N]): Promise<boolean> {
    const q = this.jobs.queue(QUEUE_OF[name]);
    const job = await q.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (LIVE_STATES.has(state)) return false;
      // Finished jobs block their id: remove the stale one, then add it again.
      await job.remove().catch(() => undefined);
    }
    await this.jobs.add(name, data, { jobId });
    return true;
  }
}
