import { Inject, Injectable, Optional } from '@nestjs/common';
import { ErrorCode, IamErrorCode, KeyturnError, SecretType, type Actor } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IAM_CLIENT, IamError, partitionForRegion, userArn, type IamClient, type Partition, type SimulatedDecision } from '@keyturn/iam';
import { SecretsApiRepository, type SecretEntity } from '@keyturn/store';
import { VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import { loadVisibleSecret } from '../secrets/folder-scope.js';
import { requiredPermissions, type RequiredPermissions } from './required-permissions.js';
import { discoveryPermissions, discoverySimulation, type DiscoveryPermissions } from './discovery-permissions.js';

export interface PermissionCheck {
  available: boolean;
  reason?: string;
  results?: { action: string; resource: string; decision: 'allowed' | 'explicitDeny' | 'implicitDeny' }[];
  allAllowed?: boolean;
  /** The actions not allowed on some resource, in the policy's order (empty when allAllowed). */
  deniedActions?: string[];
}

type SimulatedPair = { action: string; resource: string };

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
    if (check) out.check = await this.simulateChange(executor, secret, req, partition);
    return out;
  }

  /**
   * The least-privilege policy of a discovery run with `executorSecretId`'s key over `pathPrefix`
   * (docs/architecture.md, "Discovery"); with `check`, AWS is asked whether the executor has it.
   */
  async forDiscovery(
    actor: Actor,
    executorSecretId: string,
    pathPrefix: string | undefined,
    check: boolean,
  ): Promise<DiscoveryPermissions & { executorSecretId: string; check?: PermissionCheck }> {
    const executor = await loadVisibleSecret(this.secrets, actor, executorSecretId);
    if (executor.type !== SecretType.AwsIamKey) {
      throw new KeyturnError(ErrorCode.DISCOVERY_EXECUTOR_WRONG_TYPE, { executorSecretId, secretType: executor.type });
    }
    const partition = partitionForRegion(this.config.aws.region);
    const req = discoveryPermissions({ partition, accountId: executor.accountId, executorUser: executor.username, pathPrefix });
    const out: DiscoveryPermissions & { executorSecretId: string; check?: PermissionCheck } = { executorSecretId, ...req };
    if (check) out.check = await this.simulate(executor, partition, discoverySimulation(partition, executor.accountId, req.pathPrefix));
    return out;
  }

  private async simulateChange(executor: SecretEntity, target: SecretEntity, req: RequiredPermissions, partition: Partition): Promise<PermissionCheck> {
    const targetArn = userArn(partition, target.accountId, target.username);
    return this.simulate(executor, partition, req.policy.Statement.flatMap((s) => s.Action.map((action) => ({ action, resource: targetArn }))));
  }

  /** Asks AWS (SimulatePrincipalPolicy, one call per resource) whether the executor may do each action on its resource. */
  private async simulate(executor: SecretEntity, partition: Partition, pairs: SimulatedPair[]): Promise<PermissionCheck> {
    if (!this.iam) return { available: false, reason: 'no IAM client configured in this process' };
    const v = await this.secrets.currentVersion(executor.id);
    if (!v) return { available: false, reason: `secret ${executor.id} has no current key to ask AWS with` };
    const f = this.vault.open(v);
    const creds = { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey };
    const executorArn = userArn(partition, executor.accountId, executor.username);
    const byResource = new Map<string, string[]>();
    for (const p of pairs) byResource.set(p.resource, [...(byResource.get(p.resource) ?? []), p.action]);
    try {
      const results: SimulatedDecision[] = [];
      for (const [resource, actions] of byResource) results.push(...(await this.iam.simulatePrincipalPolicy(creds, executorArn, actions, [resource])));
      const deniedActions = [...new Set(results.filter((r) => r.decision !== 'allowed').map((r) => r.action))];
      return { available: true, results, allAllowed: deniedActions.length === 0, deniedActions };
    } catch (e) {
      if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) {
        return { available: false, reason: `iam:SimulatePrincipalPolicy is denied to ${executorArn} (it is optional; see "recommended")` };
      }
      if (e instanceof IamError) return { available: false, reason: `${e.code}: ${e.message}` };
      throw e;
    }
  }
}
