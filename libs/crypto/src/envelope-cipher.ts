import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { ErrorCode } from '@keyturn/contracts';
import { decodeBase64Strict } from './base64.js';
import { CryptoError, type CryptoErrorDetails } from './crypto-error.js';
import type { BlindIndexPurpose, Keyring } from './keyring.js';
import type { Kek } from './master-key.js';

/** What a sealed version belongs to; bound into every ciphertext as additional authenticated data. */
export interface EncryptionContext {
  secretId: string;
  version: number;
}

/** One AES-256-GCM ciphertext, each part base64. */
export interface EncryptedField {
  iv: string;
  ct: string;
  tag: string;
}

/**
 * What the store persists for one secret version (kek_id column, wrapped key,
 * jsonb of fields). Plain JSON: strings only.
 *
 * `wrappedKey` is base64 of `iv (12 bytes) || ciphertext (32 bytes) || tag (16 bytes)`:
 * the version's data key, AES-256-GCM-encrypted under KEK `kekId` with AAD
 * `["keyturn/dek/v1", secretId, version, kekId]` (JSON). Each field is
 * encrypted under the data key with AAD `["keyturn/field/v1", secretId, version, fieldName]`.
 */
export interface SealedVersion {
  kekId: string;
  wrappedKey: string;
  fields: Record<string, EncryptedField>;
}

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_KEY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;

// JSON of an array of strings and an integer is unambiguous, so no two
// different contexts can produce the same AAD.
function fieldAad(ctx: EncryptionContext, field: string): Buffer {
  return Buffer.from(JSON.stringify(['keyturn/field/v1', ctx.secretId, ctx.version, field]), 'utf8');
}

function dataKeyAad(ctx: EncryptionContext, kekId: string): Buffer {
  return Buffer.from(JSON.stringify(['keyturn/dek/v1', ctx.secretId, ctx.version, kekId]), 'utf8');
}

function randomBuffer(size: number): Buffer {
  // Buffer.alloc never hands out a slice of the shared pool, so zeroing it later clears the only copy.
  return randomFillSync(Buffer.alloc(size));
}

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; ct: Buffer; tag: Buffer } {
  const iv = randomBuffer(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ct, tag: cipher.getAuthTag() };
}

/** Returns undefined when authentication fails; the caller knows what to call the failure. */
function decrypt(key: Buffer, iv: Buffer, ct: Buffer, tag: Buffer, aad: Buffer): Buffer | undefined {
  // authTagLength pins the tag size: otherwise GCM would accept a truncated (weaker) tag.
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const head = decipher.update(ct);
  try {
    const tail = decipher.final();
    const out = Buffer.concat([head, tail]);
    tail.fill(0);
    return out;
  } catch {
    return undefined;
  } finally {
    head.fill(0);
  }
}

/** The secret and version a failure names (ids only). */
function where(ctx: EncryptionContext): { secretId: string; version: number } {
  return { secretId: ctx.secretId, version: ctx.version };
}

function describe(ctx: EncryptionContext): string {
  return `secret ${ctx.secretId} version ${ctx.version}`;
}

function assertContext(ctx: EncryptionContext): void {
  if (!ctx || typeof ctx.secretId !== 'string' || ctx.secretId === '') {
    throw new TypeError('encryption context needs a non-empty secretId');
  }
  if (!Number.isSafeInteger(ctx.version) || ctx.version < 0) {
    throw new TypeError(`encryption context for secret ${ctx.secretId} needs a non-negative integer version`);
  }
}

/**
 * Envelope encryption of a secret version's fields: a fresh data key per
 * seal, wrapped by the keyring's active KEK. Re-wrapping under a new KEK
 * never touches the field ciphertexts, so KEK rotation is one small update
 * per row.
 */
export class EnvelopeCipher {
  constructor(private readonly keyring: Keyring) {}

  seal(ctx: EncryptionContext, fields: Record<string, string>): SealedVersion {
    assertContext(ctx);
    for (const [name, value] of Object.entries(fields)) {
      if (name === '') throw new TypeError(`${describe(ctx)}: field names must be non-empty`);
      if (typeof value !== 'string') throw new TypeError(`${describe(ctx)}: field '${name}' must be a string`);
    }
    const kek = this.keyring.active;
    const dataKey = randomBuffer(KEY_BYTES);
    try {
      const sealedFields = Object.fromEntries(
        Object.entries(fields).map(([name, value]) => {
          const plaintext = Buffer.from(value, 'utf8');
          try {
            return [name, toField(encrypt(dataKey, plaintext, fieldAad(ctx, name)))];
          } finally {
            plaintext.fill(0);
          }
        }),
      );
      return { kekId: kek.id, wrappedKey: wrap(kek, dataKey, ctx), fields: sealedFields };
    } finally {
      dataKey.fill(0);
    }
  }

  open(ctx: EncryptionContext, sealed: SealedVersion): Record<string, string> {
    assertContext(ctx);
    const fields = fieldsOf(ctx, sealed);
    return this.withDataKey(ctx, sealed, (dataKey) =>
      Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, openOne(dataKey, ctx, name, field)])),
    );
  }

  openField(ctx: EncryptionContext, sealed: SealedVersion, field: string): string {
    assertContext(ctx);
    const fields = fieldsOf(ctx, sealed);
    if (!Object.hasOwn(fields, field)) {
      throw new CryptoError(ErrorCode.MALFORMED_CIPHERTEXT, { kind: 'missing-field', ...where(ctx), field }, {
        secretId: ctx.secretId,
        version: ctx.version,
        field,
      });
    }
    return this.withDataKey(ctx, sealed, (dataKey) => openOne(dataKey, ctx, field, fields[field]));
  }

  /**
   * The same version with its data key wrapped under the active KEK. Field
   * ciphertexts are returned unchanged (same strings) and never decrypted.
   * Always re-wraps, even under the same KEK, so a success also proves the
   * wrapped key is authentic.
   */
  rewrap(ctx: EncryptionContext, sealed: SealedVersion): SealedVersion {
    assertContext(ctx);
    const fields = fieldsOf(ctx, sealed);
    const active = this.keyring.active;
    return this.withDataKey(ctx, sealed, (dataKey) => ({
      kekId: active.id,
      wrappedKey: wrap(active, dataKey, ctx),
      fields: { ...fields },
    }));
  }

  /**
   * Unwraps the data key and throws it away: proves this keyring holds the
   * right bytes for `sealed.kekId` (a right id with the wrong key fails with
   * DECRYPT_FAILED) without decrypting any field.
   */
  verifyDataKey(ctx: EncryptionContext, sealed: SealedVersion): void {
    assertContext(ctx);
    this.withDataKey(ctx, sealed, () => undefined);
  }

  /** A blind index of `value` under KEK `kekId` (the active one by default); see Keyring.blindIndex. */
  blindIndex(purpose: BlindIndexPurpose, value: string, kekId: string = this.keyring.activeId): string {
    return this.keyring.blindIndex(kekId, purpose, value);
  }

  /** The blind index of `value` under every configured KEK, active first: what a lookup must match. */
  blindIndexes(purpose: BlindIndexPurpose, value: string): string[] {
    return this.keyring.ids.map((id) => this.keyring.blindIndex(id, purpose, value));
  }

  needsRewrap(sealed: SealedVersion): boolean {
    return sealed.kekId !== this.keyring.activeId;
  }

  private withDataKey<T>(ctx: EncryptionContext, sealed: SealedVersion, use: (dataKey: Buffer) => T): T {
    const dataKey = this.unwrap(ctx, sealed);
    try {
      return use(dataKey);
    } finally {
      dataKey.fill(0);
    }
  }

  private unwrap(ctx: EncryptionContext, sealed: SealedVersion): Buffer {
    const details: CryptoErrorDetails = { secretId: ctx.secretId, version: ctx.version };
    if (typeof sealed?.kekId !== 'string' || typeof sealed.wrappedKey !== 'string') {
      throw new CryptoError(ErrorCode.MALFORMED_CIPHERTEXT, { kind: 'no-data-key', ...where(ctx) }, details);
    }
    details.kekId = sealed.kekId;
    let kek: Kek;
    if (this.keyring.has(sealed.kekId)) {
      kek = this.keyring.get(sealed.kekId);
    } else {
      throw new CryptoError(ErrorCode.UNKNOWN_KEK, { kekId: sealed.kekId, configured: this.keyring.ids, ...where(ctx) }, details);
    }
    const raw = decodeBase64Strict(sealed.wrappedKey);
    if (!raw || raw.length !== WRAPPED_KEY_BYTES) {
      throw new CryptoError(ErrorCode.MALFORMED_CIPHERTEXT, { kind: 'wrapped-key-shape', ...where(ctx), bytes: WRAPPED_KEY_BYTES }, details);
    }
    const dataKey = decrypt(
      kek.key,
      raw.subarray(0, IV_BYTES),
      raw.subarray(IV_BYTES, IV_BYTES + KEY_BYTES),
      raw.subarray(IV_BYTES + KEY_BYTES),
      dataKeyAad(ctx, kek.id),
    );
    if (!dataKey) {
      throw new CryptoError(ErrorCode.DECRYPT_FAILED, { ...where(ctx), kekId: kek.id }, details);
    }
    return dataKey;
  }
}

function wrap(kek: Kek, dataKey: Buffer, ctx: EncryptionContext): string {
  const { iv, ct, tag } = encrypt(kek.key, dataKey, dataKeyAad(ctx, kek.id));
  return Buffer.concat([iv, ct, tag]).toString('base64');
}

function toField(parts: { iv: Buffer; ct: Buffer; tag: Buffer }): EncryptedField {
  return { iv: parts.iv.toString('base64'), ct: parts.ct.toString('base64'), tag: parts.tag.toString('base64') };
}

function fieldsOf(ctx: EncryptionContext, sealed: SealedVersion): Record<string, EncryptedField> {
  const fields: unknown = sealed?.fields;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new CryptoError(ErrorCode.MALFORMED_CIPHERTEXT, { kind: 'no-fields', ...where(ctx) }, {
      secretId: ctx.secretId,
      version: ctx.version,
    });
  }
  return fields as Record<string, EncryptedField>;
}

function openOne(dataKey: Buffer, ctx: EncryptionContext, name: string, field: EncryptedField): string {
  const details: CryptoErrorDetails = { secretId: ctx.secretId, version: ctx.version, field: name };
  const iv = typeof field?.iv === 'string' ? decodeBase64Strict(field.iv) : undefined;
  const ct = typeof field?.ct === 'string' ? decodeBase64Strict(field.ct) : undefined;
  const tag = typeof field?.tag === 'string' ? decodeBase64Strict(field.tag) : undefined;
  if (!iv || !ct || !tag || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new CryptoError(
      ErrorCode.MALFORMED_CIPHERTEXT,
      { kind: 'field-shape', ...where(ctx), field: name, ivBytes: IV_BYTES, tagBytes: TAG_BYTES },
      details,
    );
  }
  const plaintext = decrypt(dataKey, iv, ct, tag, fieldAad(ctx, name));
  if (!plaintext) {
    throw new CryptoError(ErrorCode.DECRYPT_FAILED, { ...where(ctx), field: name }, details);
  }
  try {
    return plaintext.toString('utf8');
  } finally {
    plaintext.fill(0);
  }
}
