import { timingSafeEqual } from 'node:crypto';
import { CryptoError } from './crypto-error.js';
import { assertValidKek, parseMasterKey, type Kek } from './master-key.js';

/**
 * The configured KEKs: one active (wraps every new data key) and any number
 * of previous ones (only unwrap, until their data keys are re-wrapped).
 */
export class Keyring {
  readonly activeId: string;
  private readonly keks = new Map<string, Kek>();

  constructor(active: Kek, previous: Kek[] = []) {
    for (const [i, kek] of [active, ...previous].entries()) {
      const source = i === 0 ? 'active master key' : `previous master key #${i}`;
      assertValidKek(kek, source);
      const known = this.keks.get(kek.id);
      if (known) {
        // The same key listed twice is harmless; two keys under one id would make unwrap ambiguous.
        if (timingSafeEqual(known.key, kek.key)) continue;
        throw new CryptoError(
          'INVALID_MASTER_KEY',
          `${source}: KEK id '${kek.id}' is used by two different keys; every KEK needs its own id`,
          { kekId: kek.id },
        );
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
      throw new CryptoError(
        'UNKNOWN_KEK',
        `KEK '${id}' is needed but not configured (configured: ${this.ids.join(', ')}); ` +
          `set it as KEYTURN_MASTER_KEY or add it to KEYTURN_PREVIOUS_MASTER_KEYS`,
        { kekId: id },
      );
    }
    return kek;
  }

  get active(): Kek {
    return this.get(this.activeId);
  }
}

/** Builds a keyring from the KEYTURN_MASTER_KEY / KEYTURN_PREVIOUS_MASTER_KEYS strings. */
export function keyringFromStrings(active: string, previous: readonly string[] = []): Keyring {
  return new Keyring(
    parseMasterKey(active, 'KEYTURN_MASTER_KEY'),
    previous.map((p, i) => parseMasterKey(p, `KEYTURN_PREVIOUS_MASTER_KEYS entry #${i + 1}`)),
  );
}
