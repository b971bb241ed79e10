import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileContent, hasTemplates, renderContent, type CompiledNode } from './template.js';
import { personalizationScope } from './scope.js';
import { chooseLocalized } from './localized.js';

const htmlAt = (path: string) => (path.endsWith('.html') ? 'html' as const : 'text' as const);

function compiled(content: unknown): CompiledNode {
  const r = compileContent(content, 'content', htmlAt);
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.compiled;
}

const ada = personalizationScope({
  customId: 'u-1',
  language: 'fr',
  timezone: 'Europe/Paris',
  attributes: { first_name: 'Ada', tier: 'gold', points: 1200, interests: ['jazz', 'maps'], 'birthdate': { $date: '1990-04-01T00:00:00.000Z' } },
});

test('every channel text renders over attributes, native fields and defaults', () => {
  const c = compiled({
    push: { title: 'Hi {{ first_name }}', body: '{{ points | plus: 100 }} points, {{ interests | join: " & " }}' },
    email: { subject: 'Bonjour {{ nickname | default: "there" }}', text: '{{ profile.custom_id }} in {{ profile.timezone }}' },
    sms: { body: 'Born {{ birthdate | date: "%Y-%m-%d" }}{% if tier == "gold" %} ★{% endif %}' },
  });
  const r = renderContent(c, ada, 'content');
  assert.ok(r.ok);
  assert.deepEqual(r.content, {
    push: { title: 'Hi Ada', body: '1300 points, jazz & maps' },
    email: { subject: 'Bonjour there', text: 'u-1 in Europe/Paris' },
    sms: { body: 'Born 1990-04-01 ★' },
  });
});

test('email HTML escapes every output; text fields keep the value as it is', () => {
  const scope = personalizationScope({ customId: 'x', attributes: { first_name: '<script>alert(1)</script> & "Co"' } });
  const r = renderContent(compiled({ email: { html: '<p>{{ first_name }}</p>', text: '{{ first_name }}' } }), scope, 'content');
  assert.ok(r.ok);
  assert.deepEqual(r.content, {
    email: { html: '<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;</p>', text: '<script>alert(1)</script> & "Co"' },
  });
});

test('a template that does not parse, or names a filter that does not exist, is refused with the path of each field', () => {
  const r = compileContent({
    push: { title: 'Hi {{ first_name ', body: 'fine {{ first_name }}' },
    email: { subject: '{{ first_name | shout }}', html: '{% if x %}never closed' },
    sms: { body: '{% include "secrets" %}' },
  }, 'content', htmlAt);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.errors.map((e) => e.path), ['content.push.title', 'content.email.subject', 'content.email.html', 'content.sms.body']);
  assert.match(r.errors[1]!.message, /shout/);
  assert.match(r.errors[3]!.message, /include/);
});

test('templates read own properties only: no prototype, no constructor', () => {
  const r = renderContent(compiled({ t: '[{{ first_name.constructor }}][{{ attributes.__proto__ }}][{{ profile.toString }}]' }), ada, 'content');
  assert.ok(r.ok);
  assert.deepEqual(r.content, { t: '[][][]' });
});

test('a render that exceeds its limits fails for that recipient only, naming the field', () => {
  const c = compiled({ push: { body: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' } });
  const r = renderContent(c, ada, 'content');
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.path, 'content.push.body');
});

test('strings without markup are constants, and a document without any renders to itself', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const text = JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? x.replace(/[{%]/g, '') : x))) as unknown;
    const c = compiled(text);
    assert.equal(hasTemplates(c), false);
    const r = renderContent(c, ada, 'content');
    assert.ok(r.ok);
    assert.deepEqual(r.content, text);
  }));
});

test('the localized variant follows the profile language: exact tag, then its prefix, then the default', () => {
  const base = { title: 'Hello' };
  const variants = { fr: { title: 'Bonjour' }, 'pt-BR': { title: 'Olá' }, pt: { title: 'Olá (PT)' } };
  assert.deepEqual(chooseLocalized(base, variants, 'fr'), { content: { title: 'Bonjour' }, language: 'fr' });
  assert.deepEqual(chooseLocalized(base, variants, 'fr-CA'), { content: { title: 'Bonjour' }, language: 'fr' });
  assert.deepEqual(chooseLocalized(base, variants, 'pt-br'), { content: { title: 'Olá' }, language: 'pt-BR' });
  assert.deepEqual(chooseLocalized(base, variants, 'pt-PT'), { content: { title: 'Olá (PT)' }, language: 'pt' });
  assert.deepEqual(chooseLocalized(base, variants, 'de'), { content: base, language: null });
  assert.deepEqual(chooseLocalized(base, variants, null), { content: base, language: null });
  assert.deepEqual(chooseLocalized(base, undefined, 'fr'), { content: base, language: null });
});
