import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobName, type JobPayloads } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { JobProducer, QUEUE_OF } from '@keyturn/queue';
import { heartbeatJobId, rotationJobId } from '@keyturn/rotation';

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
    @InjectDataSource() private readonly ds: DataSource,
    private readonly jobs: JobProducer,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  async reconcile(): Promise<{ rotations: number; heartbeats: number }> {
    const after = `${this.config.heartbeat.reconcileAfterMs} milliseconds`;
    // The account rides along in the job, for the workers' fair share across accounts.
    const rotations: { id: string; account_id: string }[] = await this.ds.query(
      `SELECT r.id, s.account_id FROM rotations r JOIN secrets s ON s.id = r.secret_id
        WHERE ((r.status = 'queued' OR (r.status = 'succeeded' AND r.retire_pending)) AND r.updated_at < now() - $1::interval)
           OR (r.status = 'running' AND r.lease_expires_at < now())
        ORDER BY r.updated_at LIMIT 500`,
      [after],
    );
    const heartbeats: { id: string; account_id: string }[] = await this.ds.query(
      `SELECT h.id, s.account_id FROM heartbeats h JOIN secrets s ON s.id = h.secret_id
        WHERE h.status <> 'done' AND h.created_at < now() - $1::interval AND (h.lease_expires_at IS NULL OR h.lease_expires_at < now())
        ORDER BY h.created_at LIMIT 500`,
      [after],
    );
    let r = 0;
    let h = 0;
    for (const { id, account_id } of rotations) if (await this.revive(JobName.RunRotation, rotationJobId(id), { rotationId: id, accountId: account_id })) r++;
    for (const { id, account_id } of heartbeats) if (await this.revive(JobName.RunHeartbeat, heartbeatJobId(id), { heartbeatId: id, accountId: account_id })) h++;
    if (r || h) this.logger.log(`re-enqueued ${r} rotation(s) and ${h} heartbeat(s) whose job was lost`);
    return { rotations: r, heartbeats: h };
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
