import type { EffectiveSettings, HeartbeatStatus, SecretSettings, SecretType } from '@keyturn/contracts';
import type { SecretEntity } from '@keyturn/store';

/** What any viewer may see: never a secret field. */
export interface SecretMetadata {
  id: string;
  type: SecretType;
  name: string;
  folder: string;
  username: string;
  accountId: string;
  privilegedSecretId: string | null;
  settings: SecretSettings;
  effectiveSettings?: EffectiveSettings;
  heartbeatStatus: HeartbeatStatus;
  lastHeartbeatAt: string | null;
  nextHeartbeatAt: string | null;
  lastRotatedAt: string | null;
  /** With a schedule: when the next automatic change starts (scheduled time + random offset in the window). */
  nextAutoChangeAt: string | null;
  currentVersion?: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface SecretValue {
  id: string;
  type: SecretType;
  username: string;
  accountId: string;
  version: number;
  fields: Record<string, string>;
}

/** One entry of GET /v1/secrets/:id/versions. */
export interface SecretVersionView {
  version: number;
  state: 'current' | 'previous' | 'pending' | 'retired' | 'discarded';
  /** The masked access key id ("AKIA…WXYZ"); null for other types. */
  keyHint: string | null;
  /** An adopted access key: its id is known, its secret part is not (its value is never served). */
  secretUnknown: boolean;
  createdAt: string;
  promotedAt: string | null;
  retiredAt: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toMetadata(s: SecretEntity): SecretMetadata {
  return {
    id: s.id,
    type: s.type,
    name: s.name,
    folder: s.folder,
    username: s.username,
    accountId: s.accountId,
    privilegedSecretId: s.privilegedSecretId,
    settings: s.settings,
    heartbeatStatus: s.heartbeatStatus,
    lastHeartbeatAt: iso(s.lastHeartbeatAt),
    nextHeartbeatAt: iso(s.nextHeartbeatAt),
    lastRotatedAt: iso(s.lastRotatedAt),
    nextAutoChangeAt: iso(s.nextAutoChangeAt),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}
