import { Injectable } from '@nestjs/common';
import type { Actor } from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { loadVisibleSecret } from './folder-scope.js';
import type { SecretVersionView } from './secret-view.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A secret's versions, newest first: numbers, states and times, the masked key id; never a secret field. */
@Injectable()
export class ListVersionsUseCase {
  constructor(private readonly secrets: SecretsApiRepository) {}

  async execute(actor: Actor, id: string): Promise<{ items: SecretVersionView[] }> {
    await loadVisibleSecret(this.secrets, actor, id);
    const rows = await this.secrets.versions(id);
    return {
      items: rows.map((v) => ({
        version: v.version,
        state: v.state,
        keyHint: v.keyHint,
        secretUnknown: v.secretUnknown,
        createdAt: v.createdAt.toISOString(),
        promotedAt: iso(v.promotedAt),
        retiredAt: iso(v.retiredAt),
      })),
    };
  }
}
