export { CryptoError, type CryptoErrorCode, type CryptoErrorDetails } from './crypto-error.js';
export { parseMasterKey, generateMasterKey, deriveKekId, KEK_BYTES, type Kek } from './master-key.js';
export { Keyring, keyringFromStrings, ACCESS_KEY_ID_INDEX, type BlindIndexPurpose } from './keyring.js';
export { EnvelopeCipher, type EncryptionContext, type EncryptedField, type SealedVersion } from './envelope-cipher.js';
