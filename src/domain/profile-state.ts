/**
 * What a batch of operations makes of the profiles it names: the store reads and locks those rows
 * once, folds every operation over them here, in order (as if applied one by one), and writes each
 * profile once. Pure.
 */
import { applyAttributeChanges, nativeFields, type AttributeDocument, type NativeColumn, type ProfileOperation } from './profile-operations.js';

export type NativeValues = Record<NativeColumn, string | null>;

/** A profile's fields that operations change. */
export interface ProfileState {
  native: NativeValues;
  attributes: AttributeDocument;
}

export interface NextProfile extends ProfileState {
  customId: string;
  /** False: there is no such profile yet; the batch creates it with this state. */
  existed: boolean;
  /** Some operation changed a field (one carrying only events creates a profile, changes none). */
  changed: boolean;
}

export const nativeColumns = Object.values(nativeFields) as NativeColumn[];

const noNativeValues = (): NativeValues => Object.fromEntries(nativeColumns.map((c) => [c, null])) as NativeValues;

export function hasChanges(o: ProfileOperation): boolean {
  const a = o.attributes;
  return Object.keys(o.native).length > 0 || a.unset.length > 0 ||
    Object.keys(a.set).length + Object.keys(a.add).length + Object.keys(a.remove).length > 0;
}

/**
 * Folds operations, in order, over the current state of their profiles (absent: not created yet).
 * One entry per custom_id, in order of first appearance.
 */
export function foldOperations(current: ReadonlyMap<string, ProfileState>, ops: ProfileOperation[]): NextProfile[] {
  const next = new Map<string, NextProfile>();
  for (const op of ops) {
    let p = next.get(op.customId);
    if (!p) {
      const now = current.get(op.customId);
      p = {
        customId: op.customId, existed: now !== undefined, changed: false,
        native: { ...(now?.native ?? noNativeValues()) }, attributes: now?.attributes ?? {},
      };
      next.set(op.customId, p);
    }
    if (!hasChanges(op)) continue;
    Object.assign(p.native, op.native);
    p.attributes = applyAttributeChanges(p.attributes, op.attributes);
    p.changed = true;
  }
  return [...next.values()];
}
