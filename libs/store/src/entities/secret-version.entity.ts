import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * current: what the secret is now. previous: what it was before the last change
 * (for keys: the key the retire step inactivates or deletes). pending: created
 * in AWS by a change that has not been promoted yet. retired: older history
 * (kept for password reuse checks). discarded: a pending value that was
 * abandoned (deleted in AWS).
 */
export type VersionState = 'current' | 'previous' | 'pending' | 'retired' | 'discarded';

export interface EncryptedFieldRow {
  iv: string;
  ct: string;
  tag: string;
}

@Entity({ name: 'secret_versions' })
export class SecretVersionEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'secret_id', type: 'uuid' })
  secretId: string;

  @Column({ type: 'int' })
  version: number;

  @Column({ type: 'text' })
  state: VersionState;

  @Column({ name: 'kek_id', type: 'varchar', length: 32 })
  kekId: string;

  /** The version's data key, wrapped by the key-encryption key `kekId`. */
  @Column({ name: 'wrapped_key', type: 'text' })
  wrappedKey: string;

  /** Field name → AES-256-GCM ciphertext bound to (secret id, version, field). */
  @Column({ type: 'jsonb' })
  fields: Record<string, EncryptedFieldRow>;

  /** A masked access key id ("AKIA…WXYZ") so people can tell keys apart without the value. */
  @Column({ name: 'key_hint', type: 'varchar', length: 32, nullable: true })
  keyHint: string | null;

  /**
   * HMAC-SHA256 (hex) of the access key id under a key derived from KEK
   * `kekId` (see Keyring.blindIndex); null for other secret types. It finds a
   * key's holder without the id ever being stored or queried in plaintext.
   */
  @Column({ name: 'key_id_hmac', type: 'varchar', length: 64, nullable: true })
  keyIdHmac: string | null;

  /**
   * What IAM last said about this version's access key (ListAccessKeys, or the
   * CreateAccessKey answer that made it): status, create date, and when. A
   * heartbeat lists the keys again only when key_listed_at is a day old or
   * missing (migration 1795834000000); null for other secret types.
   */
  @Column({ name: 'key_status', type: 'varchar', length: 16, nullable: true })
  keyStatus: 'Active' | 'Inactive' | null;

  @Column({ name: 'key_created_at', type: 'timestamptz', nullable: true })
  keyCreatedAt: Date | null;

  @Column({ name: 'key_listed_at', type: 'timestamptz', nullable: true })
  keyListedAt: Date | null;

  /**
   * An adopted access key (issue 15): only its id is stored, its secret part is
   * unknown. It is never served, heartbeated or used to call AWS; a privileged
   * rotation replaces it.
   */
  @Column({ name: 'secret_unknown', type: 'boolean', default: false })
  secretUnknown: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** When it became current; set by a trigger on every state change (null before migration 1795830300000). */
  @Column({ name: 'promoted_at', type: 'timestamptz', nullable: true, insert: false, update: false })
  promotedAt: Date | null;

  /** When it became retired (its key deleted, or an older change pushed it out); set by the same trigger. */
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true, insert: false, update: false })
  retiredAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
