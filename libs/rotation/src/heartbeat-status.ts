import { SYSTEM_ACTOR, type HeartbeatStatus } from '@keyturn/contracts';
import type { Repositories } from '@keyturn/store';
import { auditRow } from '@keyturn/auth';

export interface HeartbeatStatusChange {
  secretId: string;
  heartbeatId: string;
  from: HeartbeatStatus;
  to: HeartbeatStatus;
  errorCode: string | null;
}

/**
 * A secret's heartbeat status changed: `heartbeat.status-changed` in the
 * outbox and an audit entry, in the caller's transaction (the one that records
 * the status). A heartbeat and a rotation's verify step (which counts as one)
 * both announce through here.
 */
export async function recordHeartbeatStatusChange(tx: Repositories, urls: string[], component: string, c: HeartbeatStatusChange): Promise<void> {
  await tx.events.record(urls, 'heartbeat.status-changed', c.secretId, { ...c });
  await tx.audit.insert(
    auditRow(SYSTEM_ACTOR(component), {
      action: 'heartbeat.status-changed',
      outcome: c.to === 'success' ? 'success' : 'failure',
      targetType: 'heartbeat',
      targetId: c.heartbeatId,
      secretId: c.secretId,
      errorCode: c.errorCode,
      details: { from: c.from, to: c.to },
    }),
  );
}
