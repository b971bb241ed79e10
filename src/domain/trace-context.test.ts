import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryTraceparent, parseTraceparent, storedTrace, traceIdOf } from './trace-context.js';

const trace = '4bf92f3577b34da6a3ce929d0e0e4736';

test('a valid traceparent keeps its trace-id and the sampled flag (W3C Trace Context §3.2)', () => {
  assert.deepEqual(parseTraceparent(`00-${trace}-00f067aa0ba902b7-01`), { traceId: trace, flags: '01' });
  assert.deepEqual(parseTraceparent(`00-${trace}-00f067aa0ba902b7-00`), { traceId: trace, flags: '00' });
  // Flags other than "sampled" are not defined for version 00: dropped.
  assert.deepEqual(parseTraceparent(`00-${trace}-00f067aa0ba902b7-03`), { traceId: trace, flags: '01' });
  // A later version may append fields (W3C Trace Context §4.3): the first four are read.
  assert.deepEqual(parseTraceparent(`01-${trace}-00f067aa0ba902b7-01-what-comes-next`), { traceId: trace, flags: '01' });
});

test('an invalid traceparent is no trace (a new one starts), never an error', () => {
  for (const bad of [
    undefined, '', 'garbage',
    `ff-${trace}-00f067aa0ba902b7-01`, // version ff is invalid
    `00-${trace}-00f067aa0ba902b7-01-extra`, // version 00 has exactly four fields
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace-id
    `00-${trace}-${'0'.repeat(16)}-01`, // all-zero parent-id
    `00-${trace.toUpperCase()}-00f067aa0ba902b7-01`, // lowercase hex only
    `00-${trace}x-00f067aa0ba902b7-01`,
    `00-${trace}-00f067aa0ba902b7-1`,
  ]) assert.equal(parseTraceparent(bad), undefined, String(bad));
});

test('each delivery is a span of the message\'s trace: the caller\'s, else the message id', () => {
  const messageId = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';
  const deliveryId = '0190a1b2-c3d4-7e5f-9a6b-7c8d9e0f1a2c';
  const caller = deliveryTraceparent(storedTrace(parseTraceparent(`00-${trace}-00f067aa0ba902b7-01`)), messageId, deliveryId);
  assert.equal(caller, `00-${trace}-9a6b7c8d9e0f1a2c-01`);
  assert.equal(traceIdOf(caller), trace);
  const own = deliveryTraceparent(storedTrace(undefined), messageId, deliveryId);
  assert.equal(own, '00-0190a1b2c3d47e5f8a6b7c8d9e0f1a2b-9a6b7c8d9e0f1a2c-00');
  assert.ok(parseTraceparent(own), 'what Herald sends parses');
});
