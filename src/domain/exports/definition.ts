/**
 * What an export reads and the columns it writes, per kind. The API fixes the parameters when the
 * export is asked for (a segment's query expanded, the instant relative dates are read at), so
 * every page of one export reads the same set, whatever changes meanwhile.
 */
import type { Query } from '../targeting/query.js';
import type { ExportFormat } from './encode.js';

export const exportKinds = ['profiles', 'segment_members', 'events', 'campaign_recipients'] as const;
export type ExportKind = (typeof exportKinds)[number];

export type ExportParams =
  /** Profiles matching `query` (null: all), with their native fields and the chosen attributes (null: all of them). */
  | { kind: 'profiles'; query: Query | null; attributes: string[] | null; as_of: number }
  /** A segment's members: their custom_id and the chosen attributes. */
  | { kind: 'segment_members'; segment_id: string; query: Query; attributes: string[]; as_of: number }
  /** Events received from the API and the SDKs, by time range and names. */
  | { kind: 'events'; from: number | null; to: number | null; names: string[] | null }
  /** A campaign's ledger: each recipient of each occurrence and their outcome. */
  | { kind: 'campaign_recipients'; campaign_id: string };

const profileFields = ['custom_id', 'email', 'phone', 'language', 'region', 'timezone', 'email_subscription', 'sms_subscription', 'created_at', 'updated_at'] as const;
const eventFields = ['id', 'name', 'time', 'custom_id', 'install_id', 'attributes', 'received_at'] as const;
const recipientFields = ['occurrence', 'custom_id', 'variant', 'status', 'reason', 'channel', 'message_id', 'due_at', 'updated_at'] as const;

/** The CSV header (and NDJSON keys) of an export; `attributes.X` is one chosen attribute. */
export function exportColumns(p: ExportParams): string[] {
  switch (p.kind) {
    case 'profiles':
      return [...profileFields, ...(p.attributes ? p.attributes.map((a) => `attributes.${a}`) : ['attributes'])];
    case 'segment_members':
      return ['custom_id', ...p.attributes.map((a) => `attributes.${a}`)];
    case 'events':
      return [...eventFields];
    case 'campaign_recipients':
      return [...recipientFields];
  }
}

/** The file's name as a download offers it. */
export const exportFileName = (kind: ExportKind, id: string, format: ExportFormat): string => `herald-${kind}-${id}.${format}`;

/** How long an export's file is kept: a week, then deleted (an export holds personal data). */
export const exportRetentionMs = 7 * 24 * 3600 * 1000;
