import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gsmSeptets, isGsm7, smsSegments } from './sms-segments.js';

test('a GSM-7 body fits 160 septets in one SMS; the 161st makes two parts of at most 153', () => {
  assert.deepEqual(smsSegments('a'.repeat(160)), { encoding: 'GSM-7', units: 160, segments: 1 });
  assert.deepEqual(smsSegments('a'.repeat(161)), { encoding: 'GSM-7', units: 161, segments: 2 });
  assert.deepEqual(smsSegments('a'.repeat(306)), { encoding: 'GSM-7', units: 306, segments: 2 });
  assert.deepEqual(smsSegments('a'.repeat(307)), { encoding: 'GSM-7', units: 307, segments: 3 });
});

test('a UCS-2 body fits 70 units in one SMS; the 71st makes two parts of at most 67', () => {
  assert.deepEqual(smsSegments('ж'.repeat(70)), { encoding: 'UCS-2', units: 70, segments: 1 });
  assert.deepEqual(smsSegments('ж'.repeat(71)), { encoding: 'UCS-2', units: 71, segments: 2 });
  assert.deepEqual(smsSegments('ж'.repeat(134)), { encoding: 'UCS-2', units: 134, segments: 2 });
  assert.deepEqual(smsSegments('ж'.repeat(135)), { encoding: 'UCS-2', units: 135, segments: 3 });
});

test('extension characters cost two septets and are not split across parts', () => {
  assert.equal(gsmSeptets('€'), 2);
  assert.equal(gsmSeptets('{'), 2);
  assert.equal(gsmSeptets('\f'), 2);
  assert.equal(gsmSeptets('é'), 1);
  assert.deepEqual(smsSegments('€'.repeat(80)), { encoding: 'GSM-7', units: 160, segments: 1 });
  assert.deepEqual(smsSegments('a'.repeat(159) + '€'), { encoding: 'GSM-7', units: 161, segments: 2 });
  // 152 septets then an escape pair: the pair would straddle septets 153–154, so it opens part two.
  assert.equal(smsSegments('a'.repeat(152) + '€' + 'a'.repeat(151)).units, 305);
  assert.equal(smsSegments('a'.repeat(152) + '€' + 'a'.repeat(151)).segments, 2);
  assert.equal(smsSegments('a'.repeat(152) + '€' + 'a'.repeat(152) + '€').segments, 3);
  // 306 septets would fit two parts of 153, but the pair that moved leaves part one a septet short.
  assert.deepEqual(smsSegments('a'.repeat(152) + '€' + 'a'.repeat(152)), { encoding: 'GSM-7', units: 306, segments: 3 });
});

test('emoji are two UTF-16 units, force UCS-2, and a surrogate pair is never split', () => {
  assert.deepEqual(smsSegments('😀'), { encoding: 'UCS-2', units: 2, segments: 1 });
  assert.deepEqual(smsSegments('😀'.repeat(35)), { encoding: 'UCS-2', units: 70, segments: 1 });
  assert.deepEqual(smsSegments('a'.repeat(69) + '😀'), { encoding: 'UCS-2', units: 71, segments: 2 });
  // 66 units then a pair: the pair opens part two instead of straddling units 67–68.
  assert.equal(smsSegments('a'.repeat(66) + '😀' + 'a'.repeat(65)).segments, 2);
  assert.equal(smsSegments('a'.repeat(66) + '😀' + 'a'.repeat(66)).segments, 3);
});

test('curly quotes and other look-alikes are outside GSM-7', () => {
  assert.equal(isGsm7('It\u2019s here'), false);
  assert.equal(smsSegments('It\u2019s here').encoding, 'UCS-2');
  assert.equal(isGsm7('Price: 5€ @ £3, ¿qué? ÄÖÑÜ§ {x} [y] ~|^\\'), true);
  assert.equal(smsSegments('').segments, 1);
});

const gsmChar = fc.constantFrom(...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà^{}\\[~]|€');
const gsmText = fc.array(gsmChar, { maxLength: 700 }).map((cs) => cs.join(''));
const anyText = fc.string({ unit: 'grapheme', maxLength: 400 });

test('property: appending characters never lowers the segment count', () => {
  fc.assert(fc.property(anyText, anyText, (a, b) => smsSegments(a + b).segments >= smsSegments(a).segments));
  fc.assert(fc.property(gsmText, gsmText, (a, b) => smsSegments(a + b).segments >= smsSegments(a).segments));
});

test('property: any character outside GSM-7 forces UCS-2, and UCS-2 units are UTF-16 code units', () => {
  const nonGsm = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).filter((s) => !isGsm7(s));
  fc.assert(fc.property(gsmText, nonGsm, gsmText, (a, x, b) => {
    const s = smsSegments(a + x + b);
    return s.encoding === 'UCS-2' && s.units === (a + x + b).length;
  }));
});

test('property: segments cover the units and each part holds at most its limit', () => {
  fc.assert(fc.property(fc.oneof(gsmText, anyText), (body) => {
    const s = smsSegments(body);
    const limits = s.encoding === 'GSM-7' ? [160, 153] : [70, 67];
    if (s.units <= limits[0]!) return s.segments === 1;
    // A part may lose one unit to a pair that did not fit, never more.
    return s.segments >= Math.ceil(s.units / limits[1]!) && s.segments <= Math.ceil(s.units / (limits[1]! - 1));
  }));
});
