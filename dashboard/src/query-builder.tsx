/**
 * A builder for the targeting language (src/domain/targeting/query.ts has its grammar): rows of
 * conditions in nested all / any / not groups, a JSON view kept in step both ways, and the live
 * exact count. The JSON value is the one source of truth: every row reads its node from it and
 * writes a new value back, so what the builder shows is always what is sent. A query the builder
 * cannot show (valid JSON the rows have no control for) stays editable as JSON, with a note.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from './api/client.js';

type J = Record<string, unknown>;
type Change = (next: unknown) => void;

const groupKinds = ['all', 'any', 'not'] as const;
const leafKinds = ['attribute', 'field', 'event', 'installation', 'audience', 'segment'] as const;
const kindLabels: Record<string, string> = {
  attribute: 'attribute', field: 'profile field', event: 'event', installation: 'installation', audience: 'in audience', segment: 'in segment',
};
const groupLabels: Record<string, string> = { all: 'all of these', any: 'any of these', not: 'not this' };
const nativeFields = ['language', 'region', 'timezone', 'email', 'phone', 'email_subscription', 'sms_subscription'];
const installationProps = ['platform', 'push_enabled', 'app_version', 'sdk_version'];

/** Operators as the rows offer them; `not_exists` is `"exists": false`. */
const opLabels: Record<string, string> = {
  eq: 'is', neq: 'is not', in: 'is one of', gt: 'is after / above', gte: 'is at least', lt: 'is before / below', lte: 'is at most',
  between: 'is between', exists: 'exists', not_exists: 'does not exist', contains: 'contains', contains_any: 'contains any of',
  within_last_days: 'in the last N days', more_than_days_ago: 'more than N days ago', within_next_days: 'in the next N days',
};
const allOps = Object.keys(opLabels);
const textOps = ['eq', 'neq', 'in', 'exists', 'not_exists'];
const eventOps = allOps.filter((o) => !o.includes('days'));
const versionOps = ['eq', 'neq', 'in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists', 'not_exists'];
const conditionKeys = new Set([...allOps.filter((o) => o !== 'not_exists')]);

const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);

/** The one operator key of a condition object, besides `skip`. */
const opKey = (n: J, skip: string[]) => Object.keys(n).filter((k) => !skip.includes(k));

/** Whether the rows can show a condition: one known operator whose operand fits its inputs. */
function showableCondition(n: J, skip: string[]): boolean {
  const ops = opKey(n, skip);
  if (ops.length !== 1 || !conditionKeys.has(ops[0]!)) return false;
  const v = n[ops[0]!];
  if (ops[0] === 'in' || ops[0] === 'contains_any') return Array.isArray(v) && v.every(isScalar);
  if (ops[0] === 'between') return Array.isArray(v) && v.length === 2 && v.every(isScalar);
  return isScalar(v);
}

/** Whether the builder has a control for every part of `n`. */
export function showable(n: unknown): boolean {
  if (!isObj(n)) return false;
  const keys = Object.keys(n);
  if (keys.length === 1 && (keys[0] === 'all' || keys[0] === 'any')) { const of = n[keys[0]]; return Array.isArray(of) && of.every(showable); }
  if (keys.length === 1 && keys[0] === 'not') return showable(n.not);
  if ('attribute' in n) return typeof n.attribute === 'string' && showableCondition(n, ['attribute']);
  if ('field' in n) return typeof n.field === 'string' && showableCondition(n, ['field']);
  if ('event' in n) {
    if (typeof n.event !== 'string' || keys.some((k) => !['event', 'count', 'within_days', 'since', 'where'].includes(k))) return false;
    if (n.count !== undefined && !(isObj(n.count) && Object.keys(n.count).length === 1 && ('gte' in n.count || 'lte' in n.count))) return false;
    if (n.within_days !== undefined && n.since !== undefined) return false;
    return n.where === undefined || (Array.isArray(n.where) && n.where.every((w) => isObj(w) && typeof w.attribute === 'string' && showableCondition(w, ['attribute'])));
  }
  if ('installation' in n) {
    const i = n.installation;
    if (keys.length !== 1 || !isObj(i) || Object.keys(i).length !== 1) return false;
    const [k] = Object.keys(i);
    return k === 'push_enabled' ? typeof i.push_enabled === 'boolean' : installationProps.includes(k!) && isObj(i[k!]) && showableCondition(i[k!] as J, []);
  }
  if (keys.length === 1 && (keys[0] === 'audience' || keys[0] === 'segment')) return typeof n[keys[0]] === 'string';
  return false;
}

/** A typed value as JSON: a number or a boolean when it reads as one, else the text. */
const typed = (s: string, textOnly: boolean): unknown => {
  if (textOnly) return s;
  if (s === 'true' || s === 'false') return s === 'true';
  return s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s;
};
const shown = (v: unknown): string => (v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v));
const list = (s: string, textOnly: boolean) => s.split(',').map((x) => x.trim()).filter(Boolean).map((x) => typed(x, textOnly));

/** A new condition of `kind`, as the kind select makes it. */
function fresh(kind: string): J {
  switch (kind) {
    case 'field': return { field: 'language', eq: '' };
    case 'event': return { event: '' };
    case 'installation': return { installation: { platform: { eq: 'ios' } } };
    case 'audience': return { audience: '' };
    case 'segment': return { segment: '' };
    default: return { attribute: '', eq: '' };
  }
}

/** The operator select and value inputs of one condition object (`skip` names its non-operator keys). */
function ConditionControls({ node, skip, ops, textOnly, onChange }: { node: J; skip: string[]; ops: string[]; textOnly: boolean; onChange: Change }) {
  const key = opKey(node, skip)[0] ?? 'eq';
  const op = key === 'exists' && node.exists === false ? 'not_exists' : key;
  const v = node[key];
  const pair: unknown[] = Array.isArray(v) ? v : ['', ''];
  const rest = Object.fromEntries(skip.map((k) => [k, node[k]]));
  const set = (o: string, value: unknown) => onChange(o === 'not_exists' ? { ...rest, exists: false } : { ...rest, [o]: value });
  const pickOp = (o: string) => {
    if (o === 'exists' || o === 'not_exists') return set(o, true);
    if (o === 'in' || o === 'contains_any') return set(o, Array.isArray(v) ? v : v === undefined || v === '' || typeof v === 'boolean' ? [] : [v]);
    if (o === 'between') return set(o, ['', '']);
    if (o.includes('days')) return set(o, typeof v === 'number' ? v : 30);
    return set(o, Array.isArray(v) ? (v[0] ?? '') : typeof v === 'boolean' ? '' : v ?? '');
  };
  return (
    <>
      <select aria-label="Operator" value={op} onChange={(e) => pickOp(e.currentTarget.value)}>
        {ops.map((o) => <option value={o}>{opLabels[o]}</option>)}
      </select>
      {(op === 'in' || op === 'contains_any') && <input aria-label="Values, separated by commas" value={shown(v)} onChange={(e) => set(op, list(e.currentTarget.value, textOnly || op === 'contains_any'))} />}
      {op === 'between' && <>
        <input aria-label="From" value={shown(pair[0])} onInput={(e) => set(op, [typed(e.currentTarget.value, textOnly), pair[1]])} />
        <input aria-label="To" value={shown(pair[1])} onInput={(e) => set(op, [pair[0], typed(e.currentTarget.value, textOnly)])} />
      </>}
      {op.includes('days') && <input aria-label="Days" type="number" min={1} value={shown(v)} onInput={(e) => set(op, typed(e.currentTarget.value, false))} />}
      {['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'contains'].includes(op) && (
        <input aria-label="Value" value={shown(v)} onInput={(e) => set(op, typed(e.currentTarget.value, textOnly || op === 'contains'))} />
      )}
    </>
  );
}

function EventControls({ node, onChange }: { node: J; onChange: Change }) {
  const most = isObj(node.count) && 'lte' in node.count;
  const times = isObj(node.count) ? (node.count.gte ?? node.count.lte) : 1;
  const window = node.within_days !== undefined ? 'days' : node.since !== undefined ? 'since' : 'ever';
  const put = (patch: J) => {
    const next: J = { ...node, ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    onChange(next);
  };
  const setCount = (atMost: boolean, n: unknown) => put({ count: !atMost && n === 1 ? undefined : { [atMost ? 'lte' : 'gte']: n } });
  const where: J[] = Array.isArray(node.where) ? node.where : [];
  const setWhere = (w: J[]) => put({ where: w.length ? w : undefined });
  return (
    <>
      <input aria-label="Event name" value={shown(node.event)} onInput={(e) => put({ event: e.currentTarget.value })} />
      <select aria-label="How often" value={most ? 'lte' : 'gte'} onChange={(e) => setCount(e.currentTarget.value === 'lte', times)}>
        <option value="gte">at least</option><option value="lte">at most</option>
      </select>
      <input aria-label="Times" type="number" min={0} value={shown(times)} onInput={(e) => setCount(most, typed(e.currentTarget.value, false))} />
      <select aria-label="When" value={window} onChange={(e) => {
        const w = e.currentTarget.value;
        put({ within_days: w === 'days' ? 30 : undefined, since: w === 'since' ? new Date().toISOString().slice(0, 10) + 'T00:00:00Z' : undefined });
      }}>
        <option value="ever">ever</option><option value="days">in the last N days</option><option value="since">since a date</option>
      </select>
      {window === 'days' && <input aria-label="Days" type="number" min={1} value={shown(node.within_days)} onInput={(e) => put({ within_days: typed(e.currentTarget.value, false) })} />}
      {window === 'since' && <input aria-label="Since (ISO 8601)" value={shown(node.since)} onInput={(e) => put({ since: e.currentTarget.value })} />}
      <div class="qb-where">
        {where.map((w, i) => (
          <div class="qb-row" role="group" aria-label={`Event filter ${i + 1}`}>
            <input aria-label="Event attribute" value={shown(w.attribute)} onInput={(e) => setWhere(where.map((x, j) => (j === i ? { ...x, attribute: e.currentTarget.value } : x)))} />
            <ConditionControls node={w} skip={['attribute']} ops={eventOps} textOnly={false} onChange={(n) => setWhere(where.map((x, j) => (j === i ? n as J : x)))} />
            <button type="button" onClick={() => setWhere(where.filter((_, j) => j !== i))}>Remove filter</button>
          </div>
        ))}
        <button type="button" onClick={() => setWhere([...where, { attribute: '', eq: '' }])}>Add event filter</button>
      </div>
    </>
  );
}

function InstallationControls({ node, onChange }: { node: J; onChange: Change }) {
  const i = node.installation as J;
  const prop = Object.keys(i)[0]!;
  const pick = (p: string) => onChange({ installation: { [p]: p === 'push_enabled' ? true : p === 'platform' ? { eq: 'ios' } : { gte: '' } } });
  return (
    <>
      <select aria-label="Installation property" value={prop} onChange={(e) => pick(e.currentTarget.value)}>
        {installationProps.map((p) => <option value={p}>{p.replace('_', ' ').replace('sdk', 'SDK')}</option>)}
      </select>
      {prop === 'push_enabled'
        ? <select aria-label="Push enabled" value={String(i.push_enabled)} onChange={(e) => onChange({ installation: { push_enabled: e.currentTarget.value === 'true' } })}>
          <option value="true">yes</option><option value="false">no</option>
        </select>
        : <ConditionControls node={i[prop] as J} skip={[]} ops={prop === 'platform' ? textOps : versionOps} textOnly onChange={(c) => onChange({ installation: { [prop]: c } })} />}
    </>
  );
}

interface Place { path: string; label: string; error: { path: string; message: string } | undefined }

/** One node: a group of rows, or one condition's row. */
function Node({ node, onChange, onRemove, place }: { node: J; onChange: Change; onRemove?: (() => void) | undefined; place: Place }) {
  const group = groupKinds.find((k) => k in node && Object.keys(node).length === 1);
  const error = place.error?.path === place.path ? <p class="problem qb-error" role="alert">{place.error.message}</p> : null;
  const remove = onRemove && <button type="button" onClick={onRemove}>Remove</button>;
  if (group) {
    const children = (group === 'not' ? [node.not] : node[group]) as J[];
    const setGroup = (g: string) => {
      if (g === group) return;
      if (g === 'not') return onChange({ not: children.length === 1 ? children[0] : { [group]: children } });
      onChange({ [g]: group === 'not' ? [node.not] : children });
    };
    const childPath = (i: number) => (group === 'not' ? `${place.path}.not` : `${place.path}.${group}[${i}]`);
    const setChild = (i: number, c: unknown) => onChange(group === 'not' ? { not: c } : { [group]: children.map((x, j) => (j === i ? c : x)) });
    return (
      <fieldset class="qb-group">
        <legend>{place.label ? `Group ${place.label}` : 'Query'}</legend>
        <div class="qb-row">
          <select aria-label="Match" value={group} onChange={(e) => setGroup(e.currentTarget.value)}>
            {groupKinds.map((g) => <option value={g}>{groupLabels[g]}</option>)}
          </select>
          {remove}
        </div>
        {error}
        {children.map((c, i) => (
          <Node key={i} node={c} onChange={(n) => setChild(i, n)} place={{ path: childPath(i), label: place.label ? `${place.label}.${i + 1}` : `${i + 1}`, error: place.error }}
            onRemove={group === 'not' ? undefined : () => onChange({ [group]: children.filter((_, j) => j !== i) })} />
        ))}
        {group !== 'not' && (
          <div class="actions">
            <button type="button" onClick={() => onChange({ [group]: [...children, fresh('attribute')] })}>Add condition</button>
            <button type="button" onClick={() => onChange({ [group]: [...children, { any: [fresh('attribute')] }] })}>Add group</button>
          </div>
        )}
      </fieldset>
    );
  }
  const kind = leafKinds.find((k) => k in node) ?? 'attribute';
  return (
    <div class="qb-leaf" role="group" aria-label={`Condition ${place.label}`}>
      <div class="qb-row">
        <span aria-hidden="true" class="qb-label">{place.label}</span>
        <select aria-label="Kind" value={kind} onChange={(e) => onChange(fresh(e.currentTarget.value))}>
          {leafKinds.map((k) => <option value={k}>{kindLabels[k]}</option>)}
        </select>
        {kind === 'attribute' && <>
          <input aria-label="Attribute name" value={shown(node.attribute)} onInput={(e) => onChange({ ...node, attribute: e.currentTarget.value })} />
          <ConditionControls node={node} skip={['attribute']} ops={allOps} textOnly={false} onChange={onChange} />
        </>}
        {kind === 'field' && <>
          <select aria-label="Field" value={shown(node.field)} onChange={(e) => onChange({ ...node, field: e.currentTarget.value })}>
            {nativeFields.map((f) => <option value={f}>{f.replace('_', ' ')}</option>)}
          </select>
          <ConditionControls node={node} skip={['field']} ops={textOps} textOnly onChange={onChange} />
        </>}
        {kind === 'event' && <EventControls node={node} onChange={onChange} />}
        {kind === 'installation' && <InstallationControls node={node} onChange={onChange} />}
        {(kind === 'audience' || kind === 'segment') && (
          <input aria-label={kind === 'audience' ? 'Audience id' : 'Segment id'} value={shown(node[kind])} onInput={(e) => onChange({ [kind]: e.currentTarget.value })} />
        )}
        {remove}
      </div>
      {error}
    </div>
  );
}

/** Every node's path in `q` (as the server names them), deepest last. */
function paths(q: unknown, p: string, out: string[]): string[] {
  out.push(p);
  if (!isObj(q)) return out;
  if (Array.isArray(q.all)) q.all.forEach((c: unknown, i: number) => paths(c, `${p}.all[${i}]`, out));
  if (Array.isArray(q.any)) q.any.forEach((c: unknown, i: number) => paths(c, `${p}.any[${i}]`, out));
  if ('not' in q) paths(q.not, `${p}.not`, out);
  return out;
}

/** The node a refusal's message names (`body.query.all[1].eq must be…`): the deepest whose path begins it. */
export function refusedAt(q: unknown, problem: ApiProblem | undefined, prefix: string): { path: string; message: string } | undefined {
  if (problem?.code !== 'invalid_query' || !problem.message.startsWith(prefix)) return undefined;
  const named = 'query' + problem.message.slice(prefix.length).split(' ')[0];
  const at = paths(q, 'query', []).filter((p) => named === p || named.startsWith(p + '.') || named.startsWith(p + '['));
  const reason = problem.message.slice(prefix.length).replace(/^\S*\s*/, '');
  return at.length ? { path: at[at.length - 1]!, message: `${named}: ${reason}` } : undefined;
}

/**
 * The builder: the rows, the JSON view, and the live exact count. `value` is the query's JSON text
 * (so a query being typed, not yet valid, survives); `refusal` is the server's answer to the
 * caller's last save, shown beside the node it names (`pathPrefix` is where the caller put the
 * query in its request body: `body.query`).
 */
export function QueryBuilder({ value, onInput, refusal, pathPrefix = 'body.query', count = true }: {
  value: string; onInput: (text: string) => void; refusal?: ApiProblem | undefined; pathPrefix?: string; count?: boolean;
}) {
  const [jsonView, setJsonView] = useState(false);
  const [counted, setCounted] = useState<{ count: number; took_ms: number }>();
  const [countProblem, setCountProblem] = useState<ApiProblem>();
  const latest = useRef(0);
  let query: unknown;
  let parses = true;
  try { query = JSON.parse(value); } catch { parses = false; }
  const canShow = parses && showable(query);

  // The exact count, once typing pauses; an answer to an older query is dropped.
  useEffect(() => {
    if (!count || !parses) return undefined;
    const n = ++latest.current;
    const timer = setTimeout(async () => {
      const r = await api.POST('/v1/segments/count', { body: { query } as never });
      if (n !== latest.current) return;
      if (r.data) { setCounted(r.data as { count: number; took_ms: number }); setCountProblem(undefined); } else { setCounted(undefined); setCountProblem(problemOf(r.error)); }
    }, 400);
    return () => clearTimeout(timer);
  }, [value, count]);

  const problem = refusal ?? countProblem;
  const error = refusedAt(query, problem, pathPrefix);
  const set = (q: unknown) => onInput(JSON.stringify(q, null, 2));
  return (
    <div class="query-builder">
      {canShow ? (
        <>
          <Node node={query as J} onChange={set} place={{ path: 'query', label: '', error }} />
          {!groupKinds.some((k) => k in (query as J)) && <button type="button" onClick={() => set({ all: [query, fresh('attribute')] })}>Add condition</button>}
        </>
      ) : (
        <p class="note" role="status">{parses ? 'The builder cannot show this query: edit it as JSON.' : 'The query is not valid JSON yet: the builder shows it again once it is.'}</p>
      )}
      <div class="actions">
        <button type="button" aria-pressed={jsonView || !canShow} disabled={!canShow} onClick={() => setJsonView(!jsonView)}>JSON view</button>
        {count && <output aria-live="polite">{counted ? `${counted.count.toLocaleString()} profiles (${counted.took_ms} ms)` : countProblem ? 'not counted' : 'counting…'}</output>}
      </div>
      {(jsonView || !canShow) && (
        <div class="field">
          <label for="query-json">Targeting query (JSON)</label>
          <textarea id="query-json" rows={8} spellcheck={false} value={value} onInput={(e) => onInput(e.currentTarget.value)} />
        </div>
      )}
      {problem && !error && <p class="problem" role="alert"><strong>{problem.code}</strong>: {problem.message}</p>}
    </div>
  );
}
