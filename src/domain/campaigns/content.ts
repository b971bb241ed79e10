/**
 * A campaign's content, compiled once and rendered per recipient: each channel's part, with its
 * variants per language (personalization/localized.ts) and its Liquid templates
 * (personalization/template.ts). Compiling refuses every bad template with the path of its field,
 * so a campaign that would fail at send time is refused when it is created.
 */
import type { ContentPart } from '../channels.js';
import { chooseLocalized } from '../personalization/localized.js';
import { compileContent, renderContent, type CompiledNode, type TemplateError } from '../personalization/template.js';

export interface ContentInput {
  push?: unknown;
  email?: unknown;
  sms?: unknown;
  localized?: Record<string, Partial<Record<ContentPart, unknown>>> | undefined;
}

export interface CompiledCampaignContent {
  base: Partial<Record<ContentPart, CompiledNode>>;
  localized: Record<string, Partial<Record<ContentPart, CompiledNode>>>;
}

const parts: readonly ContentPart[] = ['push', 'email', 'sms'];

/** Email HTML is escaped on output; every other text is plain. */
const kindOf = (path: string) => (/\.email\.html$/.test(path) ? 'html' as const : 'text' as const);

export function compileCampaignContent(input: ContentInput, path: string): { ok: true; compiled: CompiledCampaignContent } | { ok: false; errors: TemplateError[] } {
  const errors: TemplateError[] = [];
  const compilePart = (v: unknown, at: string): CompiledNode | undefined => {
    if (v === undefined) return undefined;
    const r = compileContent(v, at, kindOf);
    if (!r.ok) {
      errors.push(...r.errors);
      return undefined;
    }
    return r.compiled;
  };
  const base: CompiledCampaignContent['base'] = {};
  for (const p of parts) {
    const c = compilePart(input[p], `${path}.${p}`);
    if (c) base[p] = c;
  }
  const localized: CompiledCampaignContent['localized'] = {};
  for (const [lang, variant] of Object.entries(input.localized ?? {})) {
    localized[lang] = {};
    for (const p of parts) {
      const c = compilePart(variant[p], `${path}.localized.${lang}.${p}`);
      if (c) localized[lang][p] = c;
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, compiled: { base, localized } };
}

/** The parts the content has (in its default language): a channel without its part reaches nobody. */
export function contentPartsOf(c: CompiledCampaignContent): ContentPart[] {
  return parts.filter((p) => c.base[p] !== undefined);
}

/** One recipient's `part`, in their language when a variant has it, rendered over `scope`. */
export function renderPart(c: CompiledCampaignContent, part: ContentPart, language: string | null, scope: Record<string, unknown>): { ok: true; content: unknown; language: string | null } | { ok: false; error: TemplateError } {
  const base = c.base[part];
  if (!base) return { ok: false, error: { path: `content.${part}`, message: 'the campaign has no content for this channel' } };
  const variants = Object.fromEntries(Object.entries(c.localized).flatMap(([lang, v]) => (v[part] ? [[lang, v[part]]] : [])));
  const chosen = chooseLocalized(base, variants, language);
  const r = renderContent(chosen.content, scope, `content.${part}`);
  return r.ok ? { ok: true, content: r.content, language: chosen.language } : r;
}
