import type { Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import { QueueName } from '@keyturn/contracts';
import { QUEUE_JOB_STATES, type ClusterStats, type QueueJobState } from '@keyturn/metrics';

/**
 * The scrape-time numbers behind keyturn_queue_jobs, keyturn_secrets,
 * keyturn_oldest_key_age_seconds, keyturn_webhook_backlog,
 * keyturn_scheduler_lag_seconds, keyturn_discovered_keys and
 * keyturn_oldest_unmanaged_key_age_seconds (the last two from the latest
 * succeeded discovery run: discovery_runs_succeeded, then that run's findings). Each query is bounded by an index
 * (docs/architecture.md, "Metrics"): the due-heartbeat and pending-delivery
 * partial indexes answer in one probe; the two that group or scan secrets
 * read one row per secret (the secrets_heartbeat_status_id index and the
 * one-current-version index), so a scrape costs O(secrets), not O(history).
 */
export class ClusterStatsRepository implements ClusterStats {
  constructor(
    private readonly ds: DataSource,
    private readonly queue: (name: QueueName) => Queue,
  ) {}

  async queueJobs(): Promise<{ queue: string; state: QueueJobState; count: number }[]> {
    const rows: { queue: string; state: QueueJobState; count: number }[] = [];
    for (const name of Object.values(QueueName)) {
      const counts = await this.queue(name).getJobCounts(...QUEUE_JOB_STATES);
      for (const state of QUEUE_JOB_STATES) rows.push({ queue: name, state, count: counts[state] ?? 0 });
    }
    return rows;
  }

  async secrets(): Promise<{ type: string; heartbeatStatus: string; count: number }[]> {
    const rows: { type: string; heartbeat_status: string; count: string }[] = await this.ds.query(
      `SELECT type, heartbeat_status, count(*) AS count FROM secrets GROUP BY type, heartbeat_status`,
    );
    return rows.map((r) => ({ type: r.type, heartbeatStatus: r.heartbeat_status, count: Number(r.count) }));
  }

  async oldestKeyAgeSeconds(): Promise<number | null> {
    const [row]: { age: number | null }[] = await this.ds.query(
      `SELECT extract(epoch FROM now() - min(v.created_at))::float8 AS age
         FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
        WHERE v.state = 'current' AND s.type = 'aws-iam-key'`,
    );
    return row?.age ?? null;
  }

  async webhookBacklog(): Promise<number> {
    const [row]: { n: string }[] = await this.ds.query(`SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'`);
    return Number(row?.n ?? 0);
  }

  async schedulerLagSeconds(): Promise<number> {
    // heartbeat_due_due_at: the smallest due time is one index probe. Claimed ones move ahead.
    const [row]: { lag: number | null }[] = await this.ds.query(
      `SELECT greatest(0, extract(epoch FROM now() - min(due_at)))::float8 AS lag FROM heartbeat_due`,
    );
    return row?.lag ?? 0;
  }

  async discoveredKeys(): Promise<{ managed: boolean; status: string; count: number }[]> {
    const rows: { managed: boolean; status: string; count: string }[] = await this.ds.query(
      `SELECT f.managed_secret_id IS NOT NULL AS managed, f.key_status AS status, count(*) AS count
         FROM discovery_findings f
        WHERE f.run_id = (SELECT id FROM discovery_runs WHERE status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1)
        GROUP BY 1, 2`,
    );
    return rows.map((r) => ({ managed: r.managed, status: r.status, count: Number(r.count) }));
  }

  async oldestUnmanagedKeyAgeSeconds(): Promise<number | null> {
    const [row]: { age: number | null }[] = await this.ds.query(
      `SELECT extract(epoch FROM now() - min(f.key_created_at))::float8 AS age
         FROM discovery_findings f
        WHERE f.run_id = (SELECT id FROM discovery_runs WHERE status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1)
          AND f.managed_secret_id IS NULL`,
    );
    return row?.age ?? null;
  }
}
