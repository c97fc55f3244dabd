import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { HeartbeatEntity } from '../entities/heartbeat.entity.js';

/** The API's side of the heartbeats table: request one (at most one waits per secret) and read them. */
@Injectable()
export class HeartbeatRequestsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** The heartbeat of a secret that waits to start (queued and never claimed), if any. */
  waiting(secretId: string): Promise<HeartbeatEntity | null> {
    return this.m.findOneBy(HeartbeatEntity, { secretId, status: 'queued', attempt: 0 });
  }

  /** A unique violation means another request's heartbeat waits already: the caller looks again. */
  async insertQueued(row: { id: string; secretId: string; requestedBy: string }): Promise<void> {
    await this.m.insert(HeartbeatEntity, { ...row, status: 'queued', trigger: 'api' });
  }

  findById(id: string): Promise<HeartbeatEntity | null> {
    return this.m.findOneBy(HeartbeatEntity, { id });
  }

  findByIdOrFail(id: string): Promise<HeartbeatEntity> {
    return this.m.findOneByOrFail(HeartbeatEntity, { id });
  }

  /** The newest first. */
  listForSecret(secretId: string, limit: number): Promise<HeartbeatEntity[]> {
    return this.m.find(HeartbeatEntity, { where: { secretId }, order: { id: 'DESC' }, take: limit });
  }
}
