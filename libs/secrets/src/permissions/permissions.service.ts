import { Inject, Injectable, Optional } from '@nestjs/common';
import { ErrorCode, IamErrorCode, KeyturnError, type Actor } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IAM_CLIENT, IamError, partitionForRegion, userArn, type IamClient } from '@keyturn/iam';
import { SecretsApiRepository, type SecretEntity } from '@keyturn/store';
import { VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import { loadVisibleSecret } from '../secrets/folder-scope.js';
import { requiredPermissions, type RequiredPermissions } from './required-permissions.js';

export interface PermissionCheck {
  available: boolean;
  reason?: string;
  results?: { action: string; resource: string; decision: 'allowed' | 'explicitDeny' | 'implicitDeny' }[];
  allAllowed?: boolean;
}

@Injectable()
export class PermissionsService {
  constructor(
    private readonly secrets: SecretsApiRepository,
    @Inject(VERSION_CIPHER) private readonly vault: VersionCipher,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
    @Optional() @Inject(IAM_CLIENT) private readonly iam?: IamClient,
  ) {}

  /** The least-privilege policy (docs/architecture.md, "Least privilege") for the secret as configured; with `check`, AWS is asked whether the executor has it. */
  async forSecret(actor: Actor, secretId: string, check: boolean): Promise<RequiredPermissions & { secretId: string; check?: PermissionCheck }> {
    const secret = await loadVisibleSecret(this.secrets, actor, secretId);
    let executor: SecretEntity = secret;
    if (secret.privilegedSecretId) {
      const ex = await this.secrets.findById(secret.privilegedSecretId);
      if (!ex) throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND, { privilegedSecretId: secret.privilegedSecretId });
      executor = ex;
    } else if (!secretTypeDefinition(secret.type).executor.selfExecuting) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED, { secretId: secret.id, secretType: secret.type });
    }
    const partition = partitionForRegion(this.config.aws.region);
    const req = requiredPermissions({
      type: secret.type,
      partition,
      accountId: secret.accountId,
      targetUser: secret.username,
      executorUser: executor.username,
    });
    const out: RequiredPermissions & { secretId: string; check?: PermissionCheck } = { secretId, ...req };
    if (check) out.check = await this.simulate(executor, secret, req, partition);
    return out;
  }

  private async simulate(executor: SecretEntity, target: SecretEntity, req: RequiredPermissions, partition: ReturnType<typeof partitionForRegion>): Promise<PermissionCheck> {
    if (!this.iam) return { available: false, reason: 'no IAM client configured in this process' };
    const v = await this.secrets.currentVersion(executor.id);
    if (!v) return { available: false, reason: `secret ${executor.id} has no current key to ask AWS with` };
    const f = this.vault.open(v);
    const executorArn = userArn(partition, executor.accountId, executor.username);
    const targetArn = userArn(partition, target.accountId, target.username);
    const actions = req.policy.Statement.flatMap((s) => s.Action);
    try {
      const results = await this.iam.simulatePrincipalPolicy(
        { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey },
        executorArn,
        actions,
        [targetArn],
      );
      return { available: true, results, allAllowed: results.every((r) => r.decision === 'allowed') };
    } catch (e) {
      if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) {
        return { available: false, reason: `iam:SimulatePrincipalPolicy is denied to ${executorArn} (it is optional; see "recommended")` };
      }
      if (e instanceof IamError) return { available: false, reason: `${e.code}: ${e.message}` };
      throw e;
    }
  }
}
