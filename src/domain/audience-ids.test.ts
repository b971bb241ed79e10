import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvFields, IdLineError, idLineReader } from './audience-ids.js';

test('CSV records split on commas, with RFC 4180 quotes and doubled quotes', () => {
  assert.deepEqual(csvFields('a,b,,c', 1), ['a', 'b', '', 'c']);
  assert.deepEqual(csvFields('"a,1","say ""hi""",x', 1), ['a,1', 'say "hi"', 'x']);
  assert.deepEqual(csvFields('"",', 1), ['', '']);
  assert.throws(() => csvFields('"open', 3), (e: unknown) => e instanceof IdLineError && /line 3: a quoted field is not closed/.test(e.message));
  assert.throws(() => csvFields('"a"b', 4), /line 4: a quoted field must end/);
});

test('a CSV reader finds the custom_id column in its header (after a BOM), skips blank lines, refuses short rows', () => {
  const read = idLineReader('csv');
  assert.equal(read('\ufeffname, custom_id ,plan', 1), undefined);
  assert.equal(read('Ann,"u-1",gold', 2), 'u-1');
  assert.equal(read('   ', 3), undefined);
  assert.throws(() => read('only-one', 4), /line 4: has no custom_id field \(column 2\)/);
  assert.throws(() => read('x,,y', 5), /line 5: custom_id must be a string of 1 to 512/);
  assert.throws(() => idLineReader('csv')('id,name', 1), /header row must name a custom_id column/);
});

test('an NDJSON reader takes {"custom_id"} objects only, and storable ids of at most 512 characters', () => {
  const read = idLineReader('ndjson');
  assert.equal(read('{"custom_id":"ü-1"}', 1), 'ü-1');
  assert.equal(read('', 2), undefined);
  assert.throws(() => read('["u"]', 3), /line 3: must be an object/);
  assert.throws(() => read('{"custom_id":"u","plan":1}', 4), /line 4: "plan" is not a known field/);
  assert.throws(() => read(JSON.stringify({ custom_id: 'x'.repeat(513) }), 5), /line 5: custom_id must be/);
  assert.throws(() => read('{"custom_id":"\\ud800"}', 6), /line 6: .*cannot be stored/);
  assert.equal(read(JSON.stringify({ custom_id: 'x'.repeat(512) }), 7)?.length, 512);
});
