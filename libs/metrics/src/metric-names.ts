/**
 * Every metric Keyturn exports besides Node's default ones (process_*, nodejs_*).
 * docker/prometheus and docker/grafana reference these names; test/repo checks
 * they name nothing else. Label values are bounded enums, never an id, a user
 * name, an ARN or a secret.
 */
export const METRIC = {
  httpRequestDuration: 'keyturn_http_request_duration_seconds',
  rotations: 'keyturn_rotations_total',
  rotationDuration: 'keyturn_rotation_duration_seconds',
  heartbeats: 'keyturn_heartbeats_total',
  queueJobs: 'keyturn_queue_jobs',
  awsCalls: 'keyturn_aws_calls_total',
  awsPacerWait: 'keyturn_aws_pacer_wait_seconds',
  secrets: 'keyturn_secrets',
  oldestKeyAge: 'keyturn_oldest_key_age_seconds',
  webhookDeliveries: 'keyturn_webhook_deliveries_total',
  webhookBacklog: 'keyturn_webhook_backlog',
  schedulerLag: 'keyturn_scheduler_lag_seconds',
  discoveredKeys: 'keyturn_discovered_keys',
  oldestUnmanagedKeyAge: 'keyturn_oldest_unmanaged_key_age_seconds',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Histograms: Prometheus sees each as name_bucket, name_sum and name_count. */
export const HISTOGRAMS: readonly MetricName[] = [METRIC.httpRequestDuration, METRIC.rotationDuration, METRIC.awsPacerWait];

/** The Keyturn metric names as a Prometheus query sees them (histogram series included). */
export function keyturnSeriesNames(): string[] {
  return Object.values(METRIC).flatMap((name) =>
    HISTOGRAMS.includes(name) ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
  );
}

/** Job states keyturn_queue_jobs reports. */
export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];
