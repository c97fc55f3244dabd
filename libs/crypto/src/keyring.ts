import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '@keyturn/contracts';
import { CryptoError } from './crypto-error.js';
import { assertValidKek, parseMasterKey, type Kek } from './master-key.js';

/**
 * The configured KEKs: one active (wraps every new data key) and any number
 * of previous ones (only unwrap, until their data keys are re-wrapped).
 */
export class Keyring {
  readonly activeId: string;
  private readonly keks = new Map<string, Kek>();
  /** Blind-index keys derived so far, by KEK id and purpose: HKDF is cheap, but lookups are frequent. */
  private readonly indexKeys = new Map<string, Buffer>();

  constructor(active: Kek, previous: Kek[] = []) {
    for (const [i, kek] of [active, ...previous].entries()) {
      const source = i === 0 ? 'active master key' : `previous master key #${i}`;
      assertValidKek(kek, source);
      const known = this.keks.get(kek.id);
      if (known) {
        // The same key listed twice is harmless; two keys under one id would make unwrap ambiguous.
        if (timingSafeEqual(known.key, kek.key)) continue;
        throw new CryptoError(ErrorCode.INVALID_MASTER_KEY, { source, kind: 'duplicate-id', kekId: kek.id }, { kekId: kek.id });
      }
      // Our own copy, so a caller zeroing or reusing its buffer cannot change the ring.
      this.keks.set(kek.id, { id: kek.id, key: Buffer.from(kek.key) });
    }
    this.activeId = active.id;
  }

  /** Every configured KEK id, the active one first. */
  get ids(): string[] {
    return [...this.keks.keys()];
  }

  has(id: string): boolean {
    return this.keks.has(id);
  }

  get(id: string): Kek {
    const kek = this.keks.get(id);
    if (!kek) {
      throw new CryptoError(ErrorCode.UNKNOWN_KEK, { kekId: id, configured: this.ids }, { kekId: id });
    }
    return kek;
  }

  get active(): Kek {
    return this.get(this.activeId);
  }

  /**
   * HMAC-SHA256 of `value` (hex) under a key derived from KEK `kekId` with
   * HKDF-SHA256 and the info string `keyturn/blind-index/<purpose>`. The KEK
   * itself never keys an HMAC, and each purpose gets its own key, so an index
   * of one kind says nothing about another or about the KEK.
   */
  blindIndex(kekId: string, purpose: BlindIndexPurpose, value: string): string {
    const cacheKey = `${kekId}\u0000${purpose}`;
    let key = this.indexKeys.get(cacheKey);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.get(kekId).key, Buffer.alloc(0), `keyturn/blind-index/${purpose}`, 32));
      this.indexKeys.set(cacheKey, key);
    }
    return createHmac('sha256', key).update(value, 'utf8').digest('hex');
  }
}

/** What a blind index is of; the version is part of the HKDF info, so a new scheme never collides with an old one. */
export type BlindIndexPurpose = 'access-key-id/v1';

/** The blind index of AWS access key ids (secret_versions.key_id_hmac). */
export const ACCESS_KEY_ID_INDEX: BlindIndexPurpose = 'access-key-id/v1';

/** Builds a keyring from the KEYTURN_MASTER_KEY / KEYTURN_PREVIOUS_MASTER_KEYS strings. */
export function keyringFromStrings(active: string, previous: readonly string[] = []): Keyring {
  return new Keyring(
    parseMasterKey(active, 'KEYTURN_MASTER_KEY'),
    previous.map((p, i) => parseMasterKey(p, `KEYTURN_PREVIOUS_MASTER_KEYS entry #${i + 1}`)),
  );
}
