import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, IamErrorCode, JobName, KeyturnError, SecretType, inFolderScope, type Actor, type SecretSettings } from '@keyturn/contracts';
import { IAM_CLIENT, IamError, maskAccessKeyId, parseArn, type AccessKeyMetadata, type IamClient } from '@keyturn/iam';
import { JobProducer } from '@keyturn/queue';
import { AdoptionsRepository, DiscoveriesRepository, RotationRequestsRepository, SecretsApiRepository, uuidv7, type DiscoveryFindingRow } from '@keyturn/store';
import { VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import { assertAssociation } from '../secrets/association.js';
import { assertFolderInScope } from '../secrets/folder-scope.js';
import { isUniqueViolation } from '../secrets/create-secret.usecase.js';
import { rotationJobId, toRotationView, type RotationView } from '../rotations/rotations.service.js';

export interface AdoptFindingInput {
  name: string;
  folder?: string;
  privilegedSecretId: string;
  settings?: SecretSettings;
  /** The user's other key (a finding of the same run and user) to delete first, when the user has two. */
  deleteFindingId?: string;
}

export interface Adoption {
  secretId: string;
  rotationId: string;
  rotation: RotationView;
}

/**
 * Adoption of a discovered key whose secret part nobody knows (issue 15 item 3,
 * docs/architecture.md "Adoption"). Everything is checked before anything is
 * written or changed in AWS: the finding is matched again against the user's
 * keys as AWS lists them now (through the privileged secret; findings hold only
 * a blind index of the key id), so a key deleted since the run, a key another
 * secret holds, or a full user without a key named to delete is refused with
 * nothing changed. Then the secret, its adopted version and a privileged
 * rotation are written in one transaction, and the rotation's job is enqueued.
 */
@Injectable()
export class AdoptFindingUseCase {
  constructor(
    private readonly discoveries: DiscoveriesRepository,
    private readonly secrets: SecretsApiRepository,
    private readonly adoptions: AdoptionsRepository,
    private readonly rotations: RotationRequestsRepository,
    private readonly jobs: JobProducer,
    @Inject(VERSION_CIPHER) private readonly vault: VersionCipher,
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
  ) {}

  async execute(actor: Actor, discoveryId: string, findingId: string, input: AdoptFindingInput): Promise<Adoption> {
    const folder = input.folder ?? '/';
    assertFolderInScope(actor, folder);
    const run = await this.discoveries.getRunWithFolder(discoveryId);
    // A run is seen through its executor secret's folder (a run whose executor is gone, only by unscoped keys).
    if (!run || !(run.executorFolder === null ? !actor.folderScopes.length || actor.folderScopes.includes('/') : inFolderScope(actor, run.executorFolder))) {
      throw new KeyturnError(ErrorCode.DISCOVERY_NOT_FOUND, { discoveryId });
    }
    const finding = await this.finding(discoveryId, findingId);
    const other = input.deleteFindingId ? await this.otherFinding(discoveryId, finding, input.deleteFindingId) : null;
    const accountId = parseArn(finding.userArn)?.accountId ?? '';
    const secretId = uuidv7();
    await assertAssociation(this.secrets, actor, secretId, accountId, input.privilegedSecretId);

    const keys = await this.listKeys(input.privilegedSecretId, finding);
    const adopted = this.match(keys, finding);
    if (!adopted) throw new KeyturnError(ErrorCode.ADOPTED_KEY_GONE, { username: finding.userName, maskedKeyId: finding.accessKeyIdMasked });
    await this.assertNotManaged(actor, adopted.accessKeyId);
    let deleteKeyIdHmac: string | null = null;
    if (other) {
      const named = this.match(keys, other);
      if (!named) throw new KeyturnError(ErrorCode.ADOPTION_DELETE_FINDING_INVALID, { deleteFindingId: other.id, reason: 'gone' });
      if (await this.secrets.liveHolderOf(this.vault.accessKeyIdIndexes(named.accessKeyId))) {
        throw new KeyturnError(ErrorCode.ADOPTION_DELETE_FINDING_INVALID, { deleteFindingId: other.id, reason: 'managed' });
      }
      deleteKeyIdHmac = this.vault.accessKeyIdIndexes(named.accessKeyId)[0];
    } else if (keys.length >= 2) {
      throw new KeyturnError(ErrorCode.ADOPTION_KEY_LIMIT, { username: finding.userName, maskedKeyIds: keys.map((k) => maskAccessKeyId(k.accessKeyId)) });
    }

    const rotationId = uuidv7();
    let written: boolean;
    try {
      written = await this.adoptions.adopt(
        {
          id: secretId,
          type: SecretType.AwsIamKey,
          name: input.name,
          folder,
          username: finding.userName,
          accountId,
          // The user the run saw: a user re-created under the same name since then is refused (USER_RECREATED).
          iamUserId: finding.userId,
          privilegedSecretId: input.privilegedSecretId,
          settings: input.settings ?? {},
          // Nothing to check until the rotation has replaced the key; the promotion makes it due.
          heartbeatStatus: 'unknown',
          nextHeartbeatAt: null,
          versionCounter: 1,
        },
        this.vault.seal(secretId, 1, 'current', { accessKeyId: adopted.accessKeyId }),
        { id: rotationId, secretId, secretType: SecretType.AwsIamKey, status: 'queued', step: 'prepare', requestedBy: actor.id, trigger: 'api', deleteKeyIdHmac },
      );
    } catch (e) {
      // Another request stored the same key since our check: the unique index settled it.
      if (isUniqueViolation(e, 'secret_versions_key_id_hmac_live')) {
        await this.assertNotManaged(actor, adopted.accessKeyId);
      }
      throw e;
    }
    if (!written) throw new KeyturnError(ErrorCode.SECRET_NAME_TAKEN, { name: input.name, folder });
    await this.jobs.tryAdd(JobName.RunRotation, { rotationId, accountId }, { jobId: rotationJobId(rotationId) });
    return { secretId, rotationId, rotation: toRotationView(await this.rotations.findByIdOrFail(rotationId)) };
  }

  private async finding(discoveryId: string, findingId: string): Promise<DiscoveryFindingRow> {
    const f = await this.discoveries.findFinding(discoveryId, findingId);
    if (!f) throw new KeyturnError(ErrorCode.DISCOVERY_FINDING_NOT_FOUND, { discoveryId, findingId });
    return f;
  }

  /** The finding named by deleteFindingId: of the same run (else 404) and user, and not the adopted key itself. */
  private async otherFinding(discoveryId: string, adopted: DiscoveryFindingRow, deleteFindingId: string): Promise<DiscoveryFindingRow> {
    if (deleteFindingId === adopted.id) throw new KeyturnError(ErrorCode.ADOPTION_DELETE_FINDING_INVALID, { deleteFindingId, reason: 'same-key' });
    const other = await this.finding(discoveryId, deleteFindingId);
    if (other.userArn !== adopted.userArn || other.userId !== adopted.userId) {
      throw new KeyturnError(ErrorCode.ADOPTION_DELETE_FINDING_INVALID, { deleteFindingId, reason: 'other-user' });
    }
    if (other.managedSecretId) throw new KeyturnError(ErrorCode.ADOPTION_DELETE_FINDING_INVALID, { deleteFindingId, reason: 'managed' });
    return other;
  }

  /** The user's keys now, listed with the privileged secret's key (an adopted key cannot sign). */
  private async listKeys(privilegedSecretId: string, finding: DiscoveryFindingRow): Promise<AccessKeyMetadata[]> {
    const v = await this.secrets.currentVersion(privilegedSecretId);
    if (!v || v.secretUnknown) throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_HAS_NO_VALUE, { privilegedSecretId });
    const f = this.vault.open(v);
    try {
      return await this.iam.listAccessKeys({ accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey }, finding.userName);
    } catch (e) {
      // The user itself is gone: so is every key of it.
      if (e instanceof IamError && e.code === IamErrorCode.NoSuchEntity) {
        throw new KeyturnError(ErrorCode.ADOPTED_KEY_GONE, { username: finding.userName, maskedKeyId: finding.accessKeyIdMasked });
      }
      throw e;
    }
  }

  /** The key a finding stands for, by its blind index under any configured KEK. */
  private match(keys: AccessKeyMetadata[], finding: DiscoveryFindingRow): AccessKeyMetadata | undefined {
    return keys.find((k) => this.vault.accessKeyIdIndexes(k.accessKeyId).includes(finding.keyIdHmac));
  }

  /** A key any secret holds now (whatever the run saw) is managed: 409, naming the holder only if the caller may see it. */
  private async assertNotManaged(actor: Actor, accessKeyId: string): Promise<void> {
    const holder = await this.secrets.liveHolderOf(this.vault.accessKeyIdIndexes(accessKeyId));
    if (holder) throw new KeyturnError(ErrorCode.ACCESS_KEY_ALREADY_STORED, { holderSecretId: inFolderScope(actor, holder.folder) ? holder.secretId : null });
  }
}
