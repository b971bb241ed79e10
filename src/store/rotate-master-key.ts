/**
 * Re-seals every stored secret under the keyring's current master key (herald keys rotate-master).
 *
 * The keyring holds the new key and the old one (src/store/master-key.ts), so every process started
 * for the rotation opens rows of either key and seals under the new one. Steps, each safe to
 * interrupt and run again:
 *   1. settings.master_key_rotation names the new key: from now on a process that would seal under
 *      another key is refused at start.
 *   2. The derived keys in use (unsubscribe links, fingerprints) are stored sealed, so they outlive
 *      the old key.
 *   3. Rows not yet under the new key (by the key id in the sealed value) are re-sealed in batches,
 *      each its own transaction with its rows locked, so a live Herald keeps working.
 *   4. With the sealed tables locked against writes, no row left under the old key: master_key_check
 *      moves to the new key and the rotation marker goes. Only now does the old key stop being accepted.
 * Nothing is sealed under a key the caller has not already stored (the new key file, or the operator's
 * HERALD_MASTER_KEY), and a row is only ever replaced by a value that opens to the same plaintext.
 */
import type { Sql, TransactionSql } from 'postgres';
import { credentialsContext } from './provider-credentials.js';
import { identitySecretContext } from './identity-secrets.js';
import { webhookSecretContext } from './webhook-endpoints.js';
import { derivedKeysContext } from './master-key.js';
import type { Keyring } from './sealed.js';
import type { Provider } from '../domain/provider-credentials.js';

export interface RotationOptions {
  /** Rows per transaction. */
  batchSize?: number;
  /** Called after each committed batch with the rows it re-sealed (progress; tests interrupt here). */
  afterBatch?: (resealed: number) => void | Promise<void>;
}

/** The sealed columns: every column Herald seals (grep `seal(` when adding one). */
const underOtherKey = (tx: TransactionSql, column: string, keyId: Buffer) =>
  tx`(${tx(column)} is not null and not (get_byte(${tx(column)}, 0) = 2 and substring(${tx(column)} from 2 for 8) = ${keyId}))`;

async function resealCredentials(tx: TransactionSql, keyring: Keyring, limit: number): Promise<number> {
  const rows = await tx<{ project_id: string; provider: Provider; sealed: Buffer }[]>`
    select project_id, provider, sealed from provider_credentials where ${underOtherKey(tx, 'sealed', keyring.keyId)}
    order by project_id, provider limit ${limit} for update`;
  for (const r of rows) {
    const context = credentialsContext(r.project_id, r.provider);
    const sealed = keyring.seal(keyring.open(r.sealed, context), context);
    await tx`update provider_credentials set sealed = ${sealed} where project_id = ${r.project_id} and provider = ${r.provider}`;
  }
  return rows.length;
}

async function resealIdentitySecrets(tx: TransactionSql, keyring: Keyring, limit: number): Promise<number> {
  const rows = await tx<{ project_id: string; sealed: Buffer; previous_sealed: Buffer | null }[]>`
    select project_id, sealed, previous_sealed from project_identity_secrets
    where ${underOtherKey(tx, 'sealed', keyring.keyId)} or ${underOtherKey(tx, 'previous_sealed', keyring.keyId)}
    order by project_id limit ${limit} for update`;
  for (const r of rows) {
    const context = identitySecretContext(r.project_id);
    const reseal = (v: Buffer) => keyring.seal(keyring.open(v, context), context);
    await tx`update project_identity_secrets set sealed = ${reseal(r.sealed)},
               previous_sealed = ${r.previous_sealed && reseal(r.previous_sealed)}
             where project_id = ${r.project_id}`;
  }
  return rows.length;
}

async function resealWebhookSecrets(tx: TransactionSql, keyring: Keyring, limit: number): Promise<number> {
  const rows = await tx<{ id: string; project_id: string; sealed: Buffer; previous_sealed: Buffer | null }[]>`
    select id, project_id, sealed, previous_sealed from webhook_endpoints
    where ${underOtherKey(tx, 'sealed', keyring.keyId)} or ${underOtherKey(tx, 'previous_sealed', keyring.keyId)}
    order by id limit ${limit} for update`;
  for (const r of rows) {
    const context = webhookSecretContext(r.project_id, r.id);
    const reseal = (v: Buffer) => keyring.seal(keyring.open(v, context), context);
    await tx`update webhook_endpoints set sealed = ${reseal(r.sealed)}, previous_sealed = ${r.previous_sealed && reseal(r.previous_sealed)}
             where id = ${r.id}`;
  }
  return rows.length;
}

/** Stores the derived keys in use (step 2), or re-seals them when a former rotation stored them under the old key. */
async function resealDerivedKeys(tx: TransactionSql, keyring: Keyring): Promise<number> {
  const seal = () => {
    const plain = Object.fromEntries(Object.entries(keyring.derivedKeys()).map(([p, k]) => [p, k.toString('base64')]));
    return keyring.seal(JSON.stringify(plain), derivedKeysContext).toString('base64');
  };
  const [row] = await tx<{ value: string }[]>`select value from settings where name = 'derived_keys' for update`;
  if (!row) {
    await tx`insert into settings (name, value) values ('derived_keys', ${seal()})`;
    return 1;
  }
  const sealed = Buffer.from(row.value, 'base64');
  if (sealed[0] === 2 && sealed.subarray(1, 9).equals(keyring.keyId)) return 0;
  keyring.open(sealed, derivedKeysContext); // it must open before it is replaced
  await tx`update settings set value = ${seal()} where name = 'derived_keys'`;
  return 1;
}

export async function rotateMasterKey(sql: Sql, keyring: Keyring, o: RotationOptions = {}): Promise<{ resealed: number }> {
  const batchSize = o.batchSize ?? 200;
  const [marker] = await sql<{ value: string }[]>`
    insert into settings (name, value) values ('master_key_rotation', ${keyring.checkValue})
    on conflict (name) do update set value = settings.value returning value`;
  // openKeyring refuses a keyring not sealing under the rotation's key; this guards other callers.
  if (marker!.value !== keyring.checkValue) throw new Error('a rotation to another master key is under way: finish it with that key');
  let resealed = await sql.begin((tx) => resealDerivedKeys(tx, keyring));
  for (;;) {
    for (const step of [resealCredentials, resealIdentitySecrets, resealWebhookSecrets]) {
      for (;;) {
        const n = await sql.begin((tx) => step(tx, keyring, batchSize));
        if (n === 0) break;
        resealed += n;
        await o.afterBatch?.(n);
      }
    }
    // A process of the rotation writing now seals under the new key, but one started before it
    // (holding only the old key) may have written since: look again with writes held off.
    const done = await sql.begin(async (tx) => {
      await tx`lock table provider_credentials, project_identity_secrets, webhook_endpoints in share mode`;
      const [left] = await tx<{ n: number }[]>`select
        (select count(*) from provider_credentials where ${underOtherKey(tx, 'sealed', keyring.keyId)})::int +
        (select count(*) from project_identity_secrets
          where ${underOtherKey(tx, 'sealed', keyring.keyId)} or ${underOtherKey(tx, 'previous_sealed', keyring.keyId)})::int +
        (select count(*) from webhook_endpoints
          where ${underOtherKey(tx, 'sealed', keyring.keyId)} or ${underOtherKey(tx, 'previous_sealed', keyring.keyId)})::int as n`;
      if (left!.n > 0) return false;
      await tx`update settings set value = ${keyring.checkValue} where name = 'master_key_check'`;
      await tx`delete from settings where name = 'master_key_rotation'`;
      return true;
    });
    if (done) return { resealed };
  }
}
