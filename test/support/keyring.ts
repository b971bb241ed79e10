/** A fresh master key for one test: its text (for HERALD_MASTER_KEY) and the keyring it makes. */
import { randomBytes } from 'node:crypto';
import { createKeyring, type Keyring } from '../../src/store/sealed.js';

export function testMasterKey(): { text: string; keyring: Keyring } {
  const key = randomBytes(32);
  return { text: key.toString('base64'), keyring: createKeyring(key) };
}
