import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from './ids.js';

test('uuidv7 is a lowercase RFC 9562 version-7 UUID carrying its millisecond time', () => {
  const at = Date.UTC(2026, 10, 24, 12, 0, 0, 123);
  const id = uuidv7(at);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
});

test('uuidv7 ids sort by time and do not repeat', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => uuidv7(1_700_000_000_000 + i));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(Array.from({ length: 10_000 }, () => uuidv7())).size, 10_000);
});
