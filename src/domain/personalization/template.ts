/**
 * Personalized content: Liquid templates (https://liquidjs.com, the Shopify Liquid language:
 * https://shopify.github.io/liquid/) in every text of a message's content, rendered once per
 * recipient over that recipient's profile (scope.ts).
 *
 * A content document is compiled once, when the campaign, automation step or send is created:
 * every string leaf that holds Liquid markup is parsed there, so a template that does not parse,
 * or names a filter that does not exist (`strictFilters`), is refused with the path of its field
 * instead of being discovered at send time. Strings without markup stay constants: most fields of
 * most messages cost nothing per recipient.
 *
 * The engines never touch a file system: `templates: {}` is liquidjs's in-memory loader, and the
 * tags that load other templates (include, render, layout) are refused at parse time. A variable
 * reads own properties only (no `constructor`, no prototype), and each render is bounded in time
 * and memory so one tenant's template cannot hold a worker (liquidjs's DoS limits:
 * https://liquidjs.com/tutorials/dos.html).
 */
import { Liquid, type Template } from 'liquidjs';

/** One refused field: its path in the request (`content.email.subject`) and why. */
export interface TemplateError {
  path: string;
  message: string;
}

/** Longest text one field may hold, in characters (liquidjs's parseLimit, per field). */
export const maxTemplateLength = 262_144;

const limits = {
  parseLimit: maxTemplateLength,
  /** Milliseconds of one field's render: far beyond any real template, short of holding a worker. */
  renderLimit: 250,
  /** liquidjs's unit: objects created by loops, joins and concatenations in one render. */
  memoryLimit: 10_000_000,
};

function engine(escapeOutput: boolean): Liquid {
  const liquid = new Liquid({
    templates: {},
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    ...(escapeOutput ? { outputEscape: 'escape' as const } : {}),
    ...limits,
  });
  for (const tag of ['include', 'render', 'layout']) {
    liquid.registerTag(tag, {
      parse() {
        throw new Error(`the "${tag}" tag is not available: a message's templates cannot load other templates`);
      },
      render() { /* never reached: parse refuses */ },
    });
  }
  return liquid;
}

/** Plain text (push, SMS, email subject and text) and HTML, where every output is escaped. */
const engines = { text: engine(false), html: engine(true) };

export type TextKind = keyof typeof engines;

/** A compiled string leaf: a constant, or parsed Liquid with the engine it renders with. */
type Leaf = { constant: string } | { kind: TextKind; template: Template[] };

/** A content document with its templates parsed: same shape, string leaves compiled. */
export type CompiledNode = Leaf | { array: CompiledNode[] } | { object: [string, CompiledNode][] } | { value: unknown };

const markup = /\{\{|\{%/;

/**
 * Compiles every string of a content document. `kindOf` says, from a leaf's path, whether it is
 * HTML (escaped outputs) or text. Returns every error, not only the first.
 */
export function compileContent(
  content: unknown,
  path: string,
  kindOf: (path: string) => TextKind = () => 'text',
): { ok: true; compiled: CompiledNode } | { ok: false; errors: TemplateError[] } {
  const errors: TemplateError[] = [];
  const compiled = compileNode(content, path, kindOf, errors);
  return errors.length ? { ok: false, errors } : { ok: true, compiled };
}

function compileNode(v: unknown, path: string, kindOf: (path: string) => TextKind, errors: TemplateError[]): CompiledNode {
  if (typeof v === 'string') {
    if (!markup.test(v)) return { constant: v };
    const kind = kindOf(path);
    try {
      return { kind, template: engines[kind].parse(v) };
    } catch (e) {
      errors.push({ path, message: liquidMessage(e) });
      return { constant: v };
    }
  }
  if (Array.isArray(v)) return { array: v.map((x, i) => compileNode(x, `${path}[${i}]`, kindOf, errors)) };
  if (v !== null && typeof v === 'object') {
    return { object: Object.entries(v).map(([k, x]) => [k, compileNode(x, `${path}.${k}`, kindOf, errors)]) };
  }
  return { value: v };
}

/** True when some string of the document holds Liquid markup: a document without any renders to itself. */
export function hasTemplates(node: CompiledNode): boolean {
  if ('template' in node) return true;
  if ('array' in node) return node.array.some(hasTemplates);
  if ('object' in node) return node.object.some(([, x]) => hasTemplates(x));
  return false;
}

/**
 * Renders a compiled document for one recipient. A render can still fail on data (a filter given
 * a value it refuses, a limit reached): that recipient's error, with the field's path, never the
 * whole send's.
 */
export function renderContent<T = unknown>(
  node: CompiledNode,
  scope: Record<string, unknown>,
  path: string,
): { ok: true; content: T } | { ok: false; error: TemplateError } {
  try {
    return { ok: true, content: renderNode(node, scope, path) as T };
  } catch (e) {
    if (e instanceof RenderFailure) return { ok: false, error: e.error };
    throw e;
  }
}

class RenderFailure extends Error {
  constructor(readonly error: TemplateError) {
    super(error.message);
  }
}

function renderNode(node: CompiledNode, scope: Record<string, unknown>, path: string): unknown {
  if ('constant' in node) return node.constant;
  if ('value' in node) return node.value;
  if ('array' in node) return node.array.map((x, i) => renderNode(x, scope, `${path}[${i}]`));
  if ('object' in node) return Object.fromEntries(node.object.map(([k, x]) => [k, renderNode(x, scope, `${path}.${k}`)]));
  try {
    return String(engines[node.kind].renderSync(node.template, scope));
  } catch (e) {
    throw new RenderFailure({ path, message: liquidMessage(e) });
  }
}

/** liquidjs's message without its excerpt of the template (which may be long), one line. */
function liquidMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.slice(0, 300);
}
