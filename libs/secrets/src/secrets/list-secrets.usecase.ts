import { Injectable } from '@nestjs/common';
import type { Actor, HeartbeatStatus, SecretType } from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { decodeCursor, encodeCursor } from './cursor.js';
import { toMetadata, type SecretMetadata } from './secret-view.js';

export interface ListSecretsQuery {
  limit: number;
  cursor?: string;
  type?: SecretType;
  folder?: string;
  heartbeatStatus?: HeartbeatStatus;
}

/** A keyset-paginated page of the secrets the actor may see (metadata only). */
@Injectable()
export class ListSecretsUseCase {
  constructor(private readonly secrets: SecretsApiRepository) {}

  async execute(actor: Actor, q: ListSecretsQuery): Promise<{ items: SecretMetadata[]; nextCursor: string | null }> {
    const rows = await this.secrets.list({
      limit: q.limit,
      afterId: q.cursor ? decodeCursor(q.cursor) : undefined,
      type: q.type,
      heartbeatStatus: q.heartbeatStatus,
      folder: q.folder,
      scopes: actor.folderScopes,
    });
    const more = rows.length > q.limit;
    const items = rows.slice(0, q.limit).map(toMetadata);
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
  }
}
