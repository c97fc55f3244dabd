import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobName, QueueName, SYSTEM_ACTOR } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { HeartbeatEntity, uuidv7, queryReturning } from '@keyturn/store';
import { JobProducer } from '@keyturn/queue';
import { SettingsService } from '@keyturn/vault';
import { RotationsService } from '../rotations.service.js';
import { heartbeatJobId } from '../heartbeats.service.js';

/** How far a claimed secret's due time moves ahead; the finished heartbeat sets the real next time. */
const CLAIM_HORIZON = '10 minutes';
const AUTO_CHANGE_LOCK = 7_264_003;

/**
 * Finds due heartbeats and automatic changes in Postgres and enqueues them.
 * Safe with any number of scheduler replicas: due secrets are claimed with
 * FOR UPDATE SKIP LOCKED (and moved ahead in the same statement), and the
 * automatic-change scan runs under an advisory lock. Memory stays constant:
 * everything goes in batches.
 */
@Injectable()
export class DueWorkService {
  private readonly logger = new Logger('DueWork');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly jobs: JobProducer,
    private readonly rotations: RotationsService,
    private readonly settings: SettingsService,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  /** Claims one batch of due key secrets, makes their heartbeat rows and enqueues them. Returns how many. */
  async enqueueDueHeartbeats(): Promise<number> {
    const batch = this.config.heartbeat.batch;
    const rows = await this.ds.transaction(async (m) => {
      const claimed = await queryReturning<{ id: string }>(
      m,
      `UPDATE secrets s SET next_heartbeat_at = now() + interval '${CLAIM_HORIZON}'
           FROM (SELECT id FROM secrets
                  WHERE type = 'aws-iam-key' AND next_heartbeat_at IS NOT NULL AND next_heartbeat_at <= now()
                  ORDER BY next_heartbeat_at
                  LIMIT $1
                  FOR UPDATE SKIP LOCKED) due
          WHERE s.id = due.id
        RETURNING s.id`, [batch]);
      if (!claimed.length) return [];
      const heartbeats = claimed.map((c) => ({ id: uuidv7(), secretId: c.id, status: 'queued' as const, trigger: 'schedule' as const, requestedBy: 'system:scheduler' }));
      await m.insert(HeartbeatEntity, heartbeats);
      return heartbeats;
    });
    if (rows.length) {
      // After the commit: a job never points at a row that does not exist. If this fails, the reconciler re-enqueues.
      await this.jobs
        .queue(QueueName.Heartbeat)
        .addBulk(rows.map((h) => ({ name: JobName.RunHeartbeat, data: { heartbeatId: h.id }, opts: { jobId: heartbeatJobId(h.id), removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 86_400 } } })))
        .catch((e: Error) => this.logger.warn(`enqueue of ${rows.length} heartbeats failed (${e.message}); the reconciler retries`));
    }
    return rows.length;
  }

  /**
   * Secrets whose automatic-change interval has elapsed get one rotation. One
   * scheduler at a time (advisory lock), and never while another change of the
   * secret is pending or a scheduled one was made in the last hour.
   */
  async enqueueAutoChanges(): Promise<number> {
    const global = await this.settings.getGlobal();
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [AUTO_CHANGE_LOCK]);
      if (!locked) return 0;
      try {
        const due: { id: string }[] = await runner.query(
          `SELECT s.id FROM secrets s
            WHERE coalesce((s.settings->>'autoChangeIntervalDays')::int, $1::int) IS NOT NULL
              AND coalesce(s.last_rotated_at, s.created_at)
                  + make_interval(days => coalesce((s.settings->>'autoChangeIntervalDays')::int, $1::int)) <= now()
              AND (s.type = 'aws-iam-key' OR s.privileged_secret_id IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM rotations r WHERE r.secret_id = s.id
                              AND (r.status IN ('queued', 'running') OR (r.trigger = 'schedule' AND r.created_at > now() - interval '1 hour')))
            LIMIT $2`,
          [global.autoChangeIntervalDays, this.config.heartbeat.batch],
        );
        for (const { id } of due) {
          await this.rotations.request(SYSTEM_ACTOR('scheduler'), id, { trigger: 'schedule' }).catch((e: Error) =>
            this.logger.warn({ secretId: id }, `automatic change not requested: ${e.message}`),
          );
        }
        return due.length;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [AUTO_CHANGE_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }
}
