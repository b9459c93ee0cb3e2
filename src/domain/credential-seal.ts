import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

// Secret credential values are sealed with AES-256-GCM under a key kept outside the database
// (TILLER_CREDENTIALS_KEY or data/credentials.key). A sealed value is base64url text of:
//
//   [1 byte format (1)] [4 bytes key id] [12 bytes IV] [16 bytes GCM tag] [ciphertext]
//
// The key id is a fingerprint of the key that sealed the value, so a keyring holding an old key
// beside the new one can open values written before a rotation, and a value sealed under a key
// this server lacks is told apart from a damaged one. The additional authenticated data binds the
// header, the workspace id, the credential id and the credential's key name: a sealed value
// copied to another row (another workspace's, or another credential of the same workspace) or
// relabelled no longer opens.

const FORMAT = 1;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const MIN_SEALED_BYTES = HEADER_BYTES + IV_BYTES + TAG_BYTES;
export const SEAL_KEY_BYTES = 32;

/** Where a sealed value belongs; it opens only for the same three. */
export interface SealBinding {
  workspaceId: string;
  credentialId: string;
  key: string;
}

export type UnsealFailure =
  /** Not a sealed value of a format this code knows. */
  | 'malformed'
  /** Sealed under a key this server does not hold. */
  | 'unknown_key'
  /** The authentication check failed: the value was altered, or belongs to another row. */
  | 'integrity';

export class UnsealError extends Error {
  constructor(
    readonly reason: UnsealFailure,
    /** The key id the value names, when it could be read (for the server log; a fingerprint, not key material). */
    readonly keyId: string | null,
  ) {
    super(`sealed credential value could not be opened: ${reason}${keyId ? ` (sealed under key ${keyId})` : ''}`);
    this.name = 'UnsealError';
  }
}

/** The 4-byte fingerprint that names a key in sealed values, as 8 hex digits. */
export function sealKeyId(key: Buffer): string {
  return createHash('sha256').update('tiller credentials key id\0').update(key).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

function additionalData(header: Buffer, binding: SealBinding): Buffer {
  // Ids are base62 and keys [A-Za-z0-9_.-], so a NUL separator cannot be forged inside a field.
  return Buffer.concat([header, Buffer.from(`tiller credential\0${binding.workspaceId}\0${binding.credentialId}\0${binding.key}`, 'utf8')]);
}

/**
 * Seals with the current key and opens with any key it holds. Only the current key seals, so
 * adding the previous key beside a new current one is the whole of a rotation's read side.
 */
export class CredentialKeyring {
  readonly currentKeyId: string;
  private readonly current: Buffer;
  private readonly byId = new Map<string, Buffer>();

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== SEAL_KEY_BYTES) throw new Error(`a credentials key must be ${SEAL_KEY_BYTES} bytes, got ${key.length}`);
      this.byId.set(sealKeyId(key), key);
    }
    this.current = current;
    this.currentKeyId = sealKeyId(current);
  }

  holds(keyId: string): boolean {
    return this.byId.has(keyId);
  }

  seal(plaintext: string, binding: SealBinding): string {
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(FORMAT, 0);
    header.write(this.currentKeyId, 1, 'hex');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(header, binding));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  /** The plaintext, or an UnsealError saying why not; never anything else. */
  open(sealed: string, binding: SealBinding): string {
    const bytes = /^[A-Za-z0-9_-]*$/.test(sealed) ? Buffer.from(sealed, 'base64url') : Buffer.alloc(0);
    if (bytes.length < MIN_SEALED_BYTES || bytes.readUInt8(0) !== FORMAT) throw new UnsealError('malformed', null);
    const header = bytes.subarray(0, HEADER_BYTES);
    const keyId = header.subarray(1).toString('hex');
    const key = this.byId.get(keyId);
    if (!key) throw new UnsealError('unknown_key', keyId);
    const iv = bytes.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
    const tag = bytes.subarray(HEADER_BYTES + IV_BYTES, MIN_SEALED_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(header, binding));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(bytes.subarray(MIN_SEALED_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // final() throws only when the tag does not authenticate the header, binding and ciphertext.
      throw new UnsealError('integrity', keyId);
    }
  }
}
