/**
 * What the SDK does to an installation's identity: identify (attach it to a custom_id, creating the
 * profile), logout (detach it), and attribute changes, which go to the profile of an identified
 * installation and otherwise wait on the installation (a null value recording an unset) until
 * identify carries them over. Each takes `authorize`, called with the installation's custom_id once
 * its row is locked and before anything changes, so the check and the change see the same row.
 */
import type { TransactionSql } from 'postgres';
import { limits, type AttributeChanges } from '../domain/profile-operations.js';
import { changeProfiles, ensureProfiles } from './profiles.js';

/** Called with the installation's current custom_id (row-locked); throws to refuse the change. */
export type Authorize = (tx: TransactionSql, boundTo: string | null) => Promise<void>;

/** The installation's custom_id, row-locked for the transaction; undefined when not registered. */
async function lockInstallation(tx: TransactionSql, projectId: string, installId: string): Promise<{ custom_id: string | null } | undefined> {
  const [row] = await tx<{ custom_id: string | null }[]>`
    select custom_id from installations where project_id = ${projectId} and install_id = ${installId} for update`;
  return row;
}

export async function identify(
  tx: TransactionSql, projectId: string, installId: string, customId: string, authorize: Authorize,
): Promise<boolean> {
  const inst = await lockInstallation(tx, projectId, installId);
  if (!inst) return false;
  await authorize(tx, inst.custom_id);
  await ensureProfiles(tx, projectId, [customId]);
  if (inst.custom_id === customId) return true;
  // Anonymous changes move to the profile: nulls are unsets, the rest are values set.
  await tx`
    update profiles p set
      attributes = herald_apply_attributes(p.attributes,
        array(select key from jsonb_each(i.attributes) where value = 'null'::jsonb), jsonb_strip_nulls(i.attributes),
        null, null, ${limits.arrayItems}),
      updated_at = now()
    from installations i
    where i.project_id = ${projectId} and i.install_id = ${installId} and i.attributes <> '{}'::jsonb
      and p.project_id = ${projectId} and p.custom_id = ${customId}`;
  await tx`update installations set custom_id = ${customId}, attributes = '{}', updated_at = now()
           where project_id = ${projectId} and install_id = ${installId}`;
  return true;
}

export async function logout(tx: TransactionSql, projectId: string, installId: string, authorize: Authorize): Promise<boolean> {
  const inst = await lockInstallation(tx, projectId, installId);
  if (!inst) return false;
  await authorize(tx, inst.custom_id);
  await tx`update installations set custom_id = null, attributes = '{}', updated_at = now()
           where project_id = ${projectId} and install_id = ${installId}`;
  return true;
}

/** False when the installation is not registered. */
export async function changeInstallationAttributes(
  tx: TransactionSql, projectId: string, installId: string, changes: AttributeChanges, authorize: Authorize,
): Promise<boolean> {
  const inst = await lockInstallation(tx, projectId, installId);
  if (!inst) return false;
  await authorize(tx, inst.custom_id);
  if (inst.custom_id !== null) {
    await ensureProfiles(tx, projectId, [inst.custom_id]);
    await changeProfiles(tx, projectId, [{ customId: inst.custom_id, native: {}, attributes: changes }]);
    return true;
  }
  const sets = { ...Object.fromEntries(changes.unset.map((n) => [n, null])), ...changes.set };
  await tx`update installations set
             attributes = herald_apply_attributes(attributes, '{}', ${JSON.stringify(sets)}::text::jsonb,
               ${JSON.stringify(changes.add)}::text::jsonb, ${JSON.stringify(changes.remove)}::text::jsonb, ${limits.arrayItems}),
             updated_at = now()
           where project_id = ${projectId} and install_id = ${installId}`;
  return true;
}
