import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, KeyturnError, inFolderScope, type Actor } from '@keyturn/contracts';
import { SecretsApiRepository, type OpenableVersion, type SecretEntity, type SecretVersionEntity } from '@keyturn/store';
import { VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import { loadVisibleSecret } from './folder-scope.js';
import type { SecretValue } from './secret-view.js';

/**
 * The entity tag of a secret's current version: the version number and the
 * version row's id (never a secret field). A value never changes under a tag:
 * every change of the value is a new version row.
 */
export const valueEtag = (version: { version: number; id: string }) => `"v${version.version}-${version.id}"`;

/** The decrypted fields of a secret's current version (the controller audits the read). */
@Injectable()
export class ReadValueUseCase {
  constructor(
    private readonly secrets: SecretsApiRepository,
    @Inject(VERSION_CIPHER) private readonly vault: VersionCipher,
  ) {}

  /**
   * `notModified(etag)` says whether the caller already holds the tag's version;
   * when it does, nothing is decrypted and `value` is absent.
   */
  async execute(
    actor: Actor,
    id: string,
    notModified: (etag: string) => boolean = () => false,
    which: 'current' | 'previous' | number = 'current',
  ): Promise<{ etag: string; value?: SecretValue }> {
    let s: SecretEntity;
    let v: OpenableVersion | null;
    if (which === 'current') {
      // The hot path: the secret and its current version in one round trip.
      const found = await this.secrets.findWithCurrentVersion(id);
      if (!found || !inFolderScope(actor, found.secret.folder)) throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: id });
      s = found.secret;
      v = found.current;
    } else {
      s = await loadVisibleSecret(this.secrets, actor, id);
      v = await this.readableVersion(id, which);
    }
    if (!v) throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: id });
    // An adopted key: its id is known, its secret part never was. Never a value with a hole in it.
    if (v.secretUnknown) throw new KeyturnError(ErrorCode.SECRET_VALUE_UNKNOWN, { secretId: id, version: v.version });
    const etag = valueEtag(v);
    if (notModified(etag)) return { etag };
    return { etag, value: { id: s.id, type: s.type, username: s.username, accountId: s.accountId, version: v.version, fields: this.vault.open(v) } };
  }

  /**
   * A version other than "current" while its value can still work: current or
   * previous (kept active or inactive by the settings, not deleted). A retired
   * version's key was deleted or replaced; pending and discarded never served.
   */
  private async readableVersion(secretId: string, which: 'previous' | number): Promise<SecretVersionEntity> {
    const v = await this.secrets.versionFor(secretId, which);
    if (!v) throw new KeyturnError(ErrorCode.VERSION_NOT_FOUND, { secretId, version: String(which) });
    if (v.state !== 'current' && v.state !== 'previous') {
      throw new KeyturnError(ErrorCode.VERSION_NOT_READABLE, { secretId, version: v.version, state: v.state });
    }
    return v;
  }
}
