import { SECRET_TYPES, type SecretType } from '@keyturn/contracts';
import type { RotationEntity } from '@keyturn/store';
import type { PrepaidTurn } from './paced-iam.client.js';

/** One change protocol: runs (or resumes) the rotation with this id to its end, or throws. */
export interface ChangeUseCase {
  /**
   * `claimed`: the row as the runner's claim returned it (else the use case reads it). `turn`: the turn of
   * the account's pace the worker's admission took; the run's calls are paced in its secret's account (jobIam).
   */
  run(rotationId: string, claimed?: RotationEntity, turn?: PrepaidTurn): Promise<void>;
}

/**
 * The change use case of every secret type. A `Record`, so the compiler makes
 * each type name one; `assertEveryTypeHandled` checks it again at boot, for a
 * record built at run time.
 */
export type ChangeUseCases = Record<SecretType, ChangeUseCase>;

export const CHANGE_USE_CASES = Symbol('CHANGE_USE_CASES');

export function assertEveryTypeHandled(useCases: Partial<Record<SecretType, ChangeUseCase>>): asserts useCases is ChangeUseCases {
  const missing = SECRET_TYPES.filter((t) => typeof useCases[t]?.run !== 'function');
  if (missing.length) {
    throw new Error(`no change use case is registered for secret type ${missing.map((t) => `'${t}'`).join(', ')}: add it to CHANGE_USE_CASES (libs/rotation/src/rotation.module.ts)`);
  }
}
