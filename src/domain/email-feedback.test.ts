import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryIdOfMessageId, parseFeedbackReport, type FeedbackReport } from './email-feedback.js';
import { multipartParts, parseContentType, parseEntity } from './mime-report.js';
import { arf, dsn, rfc3464SimpleDsn } from '../../test/support/feedback-reports.js';

const id = '0190c6b2-7f3a-7c1e-9a4b-2d5e6f708192';
const heraldMessageId = `<${id}@herald.example.com>`;

const report = (raw: string): FeedbackReport => {
  const r = parseFeedbackReport(raw);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.report;
};
const refused = (raw: string): string => {
  const r = parseFeedbackReport(raw);
  assert.ok(!r.ok, 'refused');
  return r.reason;
};

test('the simple DSN of RFC 3464: a transient failure is a soft bounce of its original recipient, tied to no Herald message', () => {
  assert.deepEqual(report(rfc3464SimpleDsn), {
    reportType: 'delivery-status',
    items: [{ kind: 'soft_bounce', address: 'louisl@larry.slip.umd.edu', deliveryId: null, detail: '4.0.0 smtp; 426 connection timed out' }],
  });
});

test('a 5.x.x failure is a hard bounce tied to the delivery its returned Message-ID names, the folded diagnostic unfolded', () => {
  const raw = dsn({ recipients: [{ final: 'Ann@Example.com', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <ann@example.com>:\nuser unknown' }], messageId: heraldMessageId });
  assert.deepEqual(report(raw).items, [{ kind: 'bounce', address: 'ann@example.com', deliveryId: id, detail: '5.1.1 smtp; 550 5.1.1 <ann@example.com>: user unknown' }]);
});

test('the original returned as headers only, and a base64 delivery-status part, read the same', () => {
  const raw = dsn({ recipients: [{ final: 'ann@example.com', action: 'failed', status: '5.2.1' }], messageId: heraldMessageId, returned: 'headers', base64: true });
  assert.deepEqual(report(raw).items, [{ kind: 'bounce', address: 'ann@example.com', deliveryId: id, detail: '5.2.1' }]);
});

test('per recipient: delivered and relayed are no bounce, delayed is a soft one, Original-Recipient wins over Final-Recipient', () => {
  const raw = dsn({
    recipients: [
      { final: 'a@example.com', action: 'delivered', status: '2.0.0' },
      { final: 'b@example.com', action: 'relayed', status: '2.0.0' },
      { final: 'c@example.com', action: 'delayed', status: '4.4.7', diagnostic: '421 try later' },
      { final: 'forwarded@elsewhere.example', original: 'd@example.com', action: 'failed', status: '5.0.0 (permanent failure)' },
    ],
    returned: 'none',
  });
  assert.deepEqual(report(raw).items.map((i) => [i.kind, i.address, i.deliveryId]), [['soft_bounce', 'c@example.com', null], ['bounce', 'd@example.com', null]]);
});

test('a utf-8 address (RFC 6533) is read; an address of another type names no recipient', () => {
  const raw = (final: string) => rfc3464SimpleDsn.replace(/Original-Recipient: [^\r]+\r\n/, '').replace('Final-Recipient: rfc822;louisl@larry.slip.umd.edu', `Final-Recipient: ${final}`);
  assert.equal(report(raw('utf-8; Ann@Example.com')).items[0]!.address, 'ann@example.com');
  assert.equal(report(raw('x400; /G=Ann/S=Example/')).items[0]!.address, null);
});

test('a DSN of successes only records nothing, and is no error', () => {
  assert.deepEqual(report(dsn({ recipients: [{ final: 'a@example.com', action: 'delivered', status: '2.0.0' }] })).items, []);
});

test('a feedback report of abuse (RFC 5965 Appendix B.2) is a complaint of its Original-Rcpt-To, tied by the Message-ID', () => {
  assert.deepEqual(report(arf({ rcptTo: 'Ann@example.com', messageId: heraldMessageId })), {
    reportType: 'feedback-report',
    items: [{ kind: 'complaint', address: 'ann@example.com', deliveryId: id, detail: 'feedback-type abuse' }],
  });
  // Providers redact the recipient: the Message-ID alone ties it.
  assert.deepEqual(report(arf({ messageId: heraldMessageId })).items.map((i) => [i.address, i.deliveryId]), [[null, id]]);
});

test('feedback that is not abuse records nothing; a report naming no recipient and no Herald message is refused', () => {
  assert.deepEqual(report(arf({ feedbackType: 'not-spam', rcptTo: 'ann@example.com' })).items, []);
  // RFC 5965 Appendix B.1: no Original-Rcpt-To, and a Message-ID Herald did not make.
  assert.match(refused(arf({ messageId: '8787KJKJ3K4J3K4J3K4J3.mail@example.net' })), /neither/);
});

test('what is no report is refused, with the reason', () => {
  assert.match(refused('From: a@example.com\r\nSubject: hi\r\n\r\nhello'), /text\/plain, not multipart\/report/);
  assert.match(refused(rfc3464SimpleDsn.replace('report-type=delivery-status', 'report-type=disposition-notification')), /report-type disposition-notification/);
  assert.match(refused(rfc3464SimpleDsn.replace(/boundary="[^"]+"/, 'charset=us-ascii')), /no boundary/);
  assert.match(refused(rfc3464SimpleDsn.replace('message/delivery-status', 'text/plain')), /message\/delivery-status part/);
  assert.match(refused(dsn({ recipients: [] })), /no per-recipient fields/);
  assert.match(refused(dsn({ recipients: [{ final: 'a@example.com', action: 'failed', status: '9.9.9' }] })), /recipient 1 .*Status/);
  assert.match(refused(dsn({ recipients: [{ final: 'a@example.com', action: 'failed', status: 'bounced' }] })), /Status/);
  assert.match(refused(arf({ feedbackType: '', rcptTo: 'a@example.com' })), /Feedback-Type/);
  assert.match(refused(''), /not multipart\/report/);
});

test('a Message-ID names a delivery only in the form Herald makes', () => {
  assert.equal(deliveryIdOfMessageId(heraldMessageId), id);
  assert.equal(deliveryIdOfMessageId(` <${id.toUpperCase()}@x.example> `), id);
  for (const other of [undefined, '', id, `<${id}>`, '<199407072116.RAA14128@CS.UTK.EDU>', `<${id}x@herald.example.com>`, `<a${id}@h.example>`]) {
    assert.equal(deliveryIdOfMessageId(other), null, String(other));
  }
});

test('MIME: quoted parameters, quoted-printable bodies, preamble and epilogue', () => {
  assert.deepEqual(parseContentType('Multipart/Report; Report-Type="delivery-status"; boundary="a \\"b\\""'), { type: 'multipart/report', params: { 'report-type': 'delivery-status', boundary: 'a "b"' } });
  assert.deepEqual(parseContentType(undefined), { type: 'text/plain', params: {} });
  const qp = parseEntity('Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 au=\r\n lait =3D ok');
  assert.equal(qp.body, 'café au lait = ok');
  const parts = multipartParts('preamble\r\n--b\r\n\r\none\r\n--b  \r\nContent-Type: text/x\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n--b\r\nnot a part', 'b');
  assert.deepEqual(parts?.map((p) => [p.type, p.body]), [['text/plain', 'one'], ['text/x', 'two']]);
  assert.equal(multipartParts('no delimiter here', 'b'), undefined);
});
