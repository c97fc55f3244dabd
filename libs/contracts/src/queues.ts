// Queue and job names are a wire format: never rename a value once shipped.

export enum QueueName {
  Rotation = 'rotation',
  Heartbeat = 'heartbeat',
}

export enum JobName {
  RunRotation = 'run-rotation',
  RunHeartbeat = 'run-heartbeat',
}

/** Jobs carry ids only: workers re-read Postgres for everything else. */
export interface RunRotationPayload {
  rotationId: string;
}

export interface RunHeartbeatPayload {
  heartbeatId: string;
}

export type JobPayloads = {
  [JobName.RunRotation]: RunRotationPayload;
  [JobName.RunHeartbeat]: RunHeartbeatPayload;
};
