/** Property: no body, however malformed, makes the send endpoint answer 5xx. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';

let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

const platform = fc.oneof(fc.constantFrom('ios', 'android', 'web'), fc.string());
const nearlyValid = fc.record(
  {
    group_id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), fc.anything()),
    recipients: fc.oneof(
      fc.record({
        custom_ids: fc.array(fc.oneof(fc.string(), fc.anything()), { maxLength: 5 }),
        install_ids: fc.array(fc.string(), { maxLength: 5 }),
        tokens: fc.array(fc.record({ platform, token: fc.oneof(fc.stringMatching(/^[0-9a-f]{0,80}$/), fc.anything()) }), { maxLength: 3 }),
      }, { requiredKeys: [] }),
      fc.anything(),
    ),
    push: fc.oneof(
      fc.record({
        title: fc.oneof(fc.string(), fc.anything()),
        body: fc.string(),
        data: fc.dictionary(fc.string(), fc.jsonValue()),
        priority: fc.oneof(fc.constantFrom('high', 'normal'), fc.anything()),
        ttl_seconds: fc.oneof(fc.integer(), fc.double()),
        collapse_id: fc.string({ unit: 'grapheme', maxLength: 70 }),
        badge: fc.oneof(fc.integer(), fc.anything()),
        sound: fc.string(),
      }, { requiredKeys: [] }),
      fc.anything(),
    ),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

test('the send endpoint never answers 5xx, whatever the body', { timeout: 120_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(nearlyValid, fc.jsonValue(), fc.anything()), fc.option(fc.stringMatching(/^[!-~]{1,300}$/)), async (body, key) => {
      let text: string;
      try { text = JSON.stringify(body) ?? 'null'; } catch { text = '{'; }
      const r = await h.call('POST', '/v1/transactional/send', text, key ? { 'idempotency-key': key } : {});
      assert.ok(r.status < 500, `status ${r.status} for ${text.slice(0, 300)}: ${JSON.stringify(r.body)}`);
      if (r.status >= 400) assert.equal(typeof r.body.error?.code, 'string');
    }),
    { numRuns: 300 },
  );
});

test('raw garbage bytes are a 4xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'binary' }), async (text) => {
      const r = await h.call('POST', '/v1/transactional/send', text);
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    }),
    { numRuns: 100 },
  );
});
