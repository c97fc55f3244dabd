import { Injectable } from '@nestjs/common';
import { ErrorCode, JobName, KeyturnError, type Actor } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { HeartbeatRequestsRepository, SecretsApiRepository, uuidv7, type HeartbeatEntity } from '@keyturn/store';
import { JobProducer } from '@keyturn/queue';
import { loadVisibleSecret } from '../secrets/folder-scope.js';

export interface HeartbeatView {
  id: string;
  secretId: string;
  status: string;
  outcome: string | null;
  trigger: string;
  requestedBy: string;
  checkedArn: string | null;
  keyStatus: string | null;
  keyAgeDays: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export function toHeartbeatView(h: HeartbeatEntity): HeartbeatView {
  return {
    id: h.id,
    secretId: h.secretId,
    status: h.status,
    outcome: h.outcome,
    trigger: h.trigger,
    requestedBy: h.requestedBy,
    checkedArn: h.checkedArn,
    keyStatus: h.keyStatus,
    keyAgeDays: h.keyCreatedAt ? Math.floor((Date.now() - h.keyCreatedAt.getTime()) / 86_400_000) : null,
    errorCode: h.errorCode,
    errorMessage: h.errorMessage,
    createdAt: h.createdAt.toISOString(),
    finishedAt: h.finishedAt?.toISOString() ?? null,
  };
}

/**
 * A heartbeat's job id is its row id: enqueuing a row twice adds one job. The queue already says it is a
 * heartbeat; the former `heartbeat-` prefix only cost Redis bytes in every copy of the id (the job's key,
 * its options, the priority set and the fair-share counts). A job queued under the old form before an
 * upgrade may be joined by a second one from the reconciler; the row's claim lets only one of them run.
 */
export const heartbeatJobId = (heartbeatId: string) => heartbeatId;

/** See RotationsService: losers of the one-waiting race find the winner on their next look. */
const MAX_TRIES = 5;

@Injectable()
export class HeartbeatsService {
  constructor(
    private readonly heartbeats: HeartbeatRequestsRepository,
    private readonly secrets: SecretsApiRepository,
    private readonly jobs: JobProducer,
  ) {}

  /**
   * Coalesced like rotations: a secret has at most one waiting heartbeat, and
   * a request while one waits gets that one (`created: false`).
   */
  async request(actor: Actor, secretId: string): Promise<{ heartbeat: HeartbeatView; created: boolean }> {
    const secret = await loadVisibleSecret(this.secrets, actor, secretId);
    if (!secretTypeDefinition(secret.type).canHeartbeat) {
      throw new KeyturnError(ErrorCode.HEARTBEAT_NOT_SUPPORTED);
    }
    for (let tries = 1; ; tries++) {
      const waiting = await this.heartbeats.waiting(secretId);
      if (waiting) return { heartbeat: toHeartbeatView(waiting), created: false };
      const id = uuidv7();
      try {
        await this.heartbeats.insertQueued({ id, secretId, requestedBy: actor.id });
      } catch (e) {
        if ((e as { code?: string }).code === '23505') {
          if (tries < MAX_TRIES) continue;
          throw new KeyturnError(ErrorCode.HEARTBEAT_REQUEST_CONFLICT, { secretId });
        }
        throw e;
      }
      await this.jobs.tryAdd(JobName.RunHeartbeat, { heartbeatId: id, accountId: secret.accountId }, { jobId: heartbeatJobId(id) });
      return { heartbeat: toHeartbeatView(await this.heartbeats.findByIdOrFail(id)), created: true };
    }
  }

  async get(actor: Actor, heartbeatId: string): Promise<HeartbeatView> {
    const h = await this.heartbeats.findById(heartbeatId);
    if (!h) throw new KeyturnError(ErrorCode.HEARTBEAT_NOT_FOUND, { heartbeatId });
    await loadVisibleSecret(this.secrets, actor, h.secretId).catch(() => {
      throw new KeyturnError(ErrorCode.HEARTBEAT_NOT_FOUND, { heartbeatId });
    });
    return toHeartbeatView(h);
  }

  async list(actor: Actor, secretId: string, limit = 50): Promise<{ items: HeartbeatView[] }> {
    await loadVisibleSecret(this.secrets, actor, secretId);
    const rows = await this.heartbeats.listForSecret(secretId, limit);
    return { items: rows.map(toHeartbeatView) };
  }
}
