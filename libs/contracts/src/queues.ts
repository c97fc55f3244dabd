// Queue and job names are a wire format: never rename a value once shipped.

export enum QueueName {
  Rotation = 'rotation',
  Heartbeat = 'heartbeat',
  /** Discovery runs: long (a whole account's users), so they never hold the rotation queue's slots. */
  Discovery = 'discovery',
}

export enum JobName {
  RunRotation = 'run-rotation',
  RunHeartbeat = 'run-heartbeat',
  RunDiscovery = 'run-discovery',
}

/**
 * Jobs carry ids only: workers re-read Postgres for everything else. The AWS
 * account id (not a secret) rides along so the worker can share its slots
 * fairly across accounts before it touches Postgres; jobs from before it was
 * added have none and simply take no part in the fair share.
 */
export interface RunRotationPayload {
  rotationId: string;
  accountId?: string;
}

export interface RunHeartbeatPayload {
  heartbeatId: string;
  accountId?: string;
}

export interface RunDiscoveryPayload {
  discoveryId: string;
  accountId?: string;
}

export type JobPayloads = {
  [JobName.RunRotation]: RunRotationPayload;
  [JobName.RunHeartbeat]: RunHeartbeatPayload;
  [JobName.RunDiscovery]: RunDiscoveryPayload;
};
