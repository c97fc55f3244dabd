import { Injectable } from '@nestjs/common';
import { ErrorCode, KeyturnError, type Actor } from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { loadVisibleSecret } from './folder-scope.js';

/** Deletes a secret (its audit history stays); with `force`, detaches the secrets that use it as their privileged account. */
@Injectable()
export class DeleteSecretUseCase {
  constructor(private readonly secrets: SecretsApiRepository) {}

  async execute(actor: Actor, id: string, force: boolean): Promise<{ detached: string[] }> {
    await loadVisibleSecret(this.secrets, actor, id);
    return this.secrets.transaction(async (tx) => {
      // A change in flight may hold a pending key in AWS that only this secret knows about.
      if (await tx.hasChangeInFlight(id)) {
        throw new KeyturnError(ErrorCode.ROTATION_IN_PROGRESS, { secretId: id });
      }
      const dependents = await tx.dependentsOf(id);
      if (dependents.length && !force) {
        throw new KeyturnError(ErrorCode.SECRET_HAS_DEPENDENTS, { secretId: id, dependents });
      }
      if (dependents.length) await tx.detachDependents(id);
      await tx.delete(id);
      return { detached: dependents.map((d) => d.id) };
    });
  }
}
