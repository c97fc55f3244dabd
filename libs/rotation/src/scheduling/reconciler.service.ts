import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobName, QueueName } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { JobProducer } from '@keyturn/queue';
import { rotationJobId } from '../rotations.service.js';
import { heartbeatJobId } from '../heartbeats.service.js';

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
    const rotations: { id: string }[] = await this.ds.query(
      `SELECT id FROM rotations
        WHERE ((status = 'queued' OR (status = 'succeeded' AND retire_pending)) AND updated_at < now() - $1::interval)
           OR (status = 'running' AND lease_expires_at < now())
        ORDER BY updated_at LIMIT 500`,
      [after],
    );
    const heartbeats: { id: string }[] = await this.ds.query(
      `SELECT id FROM heartbeats
        WHERE status <> 'done' AND created_at < now() - $1::interval AND (lease_expires_at IS NULL OR lease_expires_at < now())
        ORDER BY created_at LIMIT 500`,
      [after],
    );
    let r = 0;
    let h = 0;
    for (const { id } of rotations) if (await this.revive(QueueName.Rotation, JobName.RunRotation, rotationJobId(id), { rotationId: id })) r++;
    for (const { id } of heartbeats) if (await this.revive(QueueName.Heartbeat, JobName.RunHeartbeat, heartbeatJobId(id), { heartbeatId: id })) h++;
    if (r || h) this.logger.log(`re-enqueued ${r} rotation(s) and ${h} heartbeat(s) whose job was lost`);
    return { rotations: r, heartbeats: h };
  }

  private async revive(queue: QueueName, name: JobName, jobId: string, data: { rotationId: string } | { heartbeatId: string }): Promise<boolean> {
    const q = this.jobs.queue(queue);
    const job = await q.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (LIVE_STATES.has(state)) return false;
      // Finished jobs block their id: remove the stale one, then add it again.
      await job.remove().catch(() => undefined);
    }
    await q.add(name, data, { jobId, removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } });
    return true;
  }
}
