import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutcomeKind } from '../../domain/outcome.js';
import { enhancedStatus, smtpOutcome, type SmtpFailure } from './outcome.js';

const reply = (responseCode: number, command: string, text: string, code = command === 'DATA' ? 'EMESSAGE' : 'EENVELOPE'): SmtpFailure =>
  ({ message: `Can't send mail - ${text}`, code, responseCode, command, response: `${responseCode} ${text}` });

// RFC 3463 and RFC 3464: every reply class with the action it calls for.
const table: [string, SmtpFailure, OutcomeKind][] = [
  ['550 5.1.1 at RCPT (no such user)', reply(550, 'RCPT TO', '5.1.1 The email account that you tried to reach does not exist.'), 'token_invalid'],
  ['550 without enhanced status at RCPT', reply(550, 'RCPT TO', 'Mailbox unavailable'), 'token_invalid'],
  ['551 at RCPT (user not local)', reply(551, 'RCPT TO', '5.1.6 User not local'), 'token_invalid'],
  ['553 at RCPT (mailbox name not allowed)', reply(553, 'RCPT TO', '5.1.3 Bad recipient address syntax'), 'token_invalid'],
  ['550 5.2.1 after DATA (mailbox disabled)', reply(550, 'DATA', '5.2.1 The email account that you tried to reach is disabled.'), 'token_invalid'],
  ['550 5.7.1 at RCPT (relaying denied: policy, not a dead mailbox)', reply(550, 'RCPT TO', '5.7.1 Relaying denied'), 'rejected'],
  ['550 5.7.26 after DATA (unauthenticated)', reply(550, 'DATA', '5.7.26 This message is not authenticated'), 'rejected'],
  ['552 after DATA (message too large)', reply(552, 'DATA', '5.3.4 Message size exceeds fixed limit'), 'rejected'],
  ['554 after DATA (content refused)', reply(554, 'DATA', '5.7.1 Message rejected'), 'rejected'],
  ['421 (closing, try later)', reply(421, 'RCPT TO', '4.7.0 Try again later, closing connection.'), 'retry'],
  ['450 (mailbox busy)', reply(450, 'RCPT TO', '4.2.1 Receiving mail too quickly'), 'retry'],
  ['451 (local error)', reply(451, 'DATA', '4.3.0 Temporary failure'), 'retry'],
  ['452 (insufficient storage)', reply(452, 'RCPT TO', '4.2.2 Over quota'), 'retry'],
  ['454 at AUTH (temporary authentication failure)', reply(454, 'AUTH PLAIN', '4.7.0 Temporary authentication failure', 'EAUTH'), 'retry'],
  ['535 at AUTH (bad login)', reply(535, 'AUTH PLAIN', '5.7.8 Username and Password not accepted.', 'EAUTH'), 'credentials_invalid'],
  ['530 (authentication required)', reply(530, 'MAIL FROM', '5.7.0 Authentication Required', 'EENVELOPE'), 'credentials_invalid'],
  ['503 (bad sequence: the session, not the message)', reply(503, 'RCPT TO', '5.5.1 Bad sequence of commands'), 'retry'],
  ['an unexpected 2xx', reply(250, 'DATA', 'OK'), 'provider_down'],
  ['connection refused', { message: 'connect ECONNREFUSED 127.0.0.1:25', code: 'ESOCKET', command: 'CONN' }, 'provider_down'],
  ['connection timeout', { message: 'Connection timeout', code: 'ETIMEDOUT', command: 'CONN' }, 'provider_down'],
  ['greeting never came', { message: 'Greeting never received', code: 'ETIMEDOUT', command: 'CONN' }, 'provider_down'],
  ['connection closed mid-message', { message: 'Reached maximum number of retries after connection was closed', code: 'ECONNECTION' }, 'provider_down'],
  ['TLS failure', { message: 'self-signed certificate', code: 'ETLS', command: 'CONN' }, 'provider_down'],
  ['missing credentials', { message: 'Missing credentials for "PLAIN"', code: 'EAUTH', command: 'API' }, 'credentials_invalid'],
  ['a DKIM key that cannot sign', { message: 'Unsupported DKIM hash algorithm', code: 'ECONFIG' }, 'credentials_invalid'],
  ['an address nodemailer refuses locally', { message: 'Invalid recipient', code: 'EENVELOPE' }, 'rejected'],
];

for (const [name, failure, kind] of table) {
  test(`${name} → ${kind}`, () => {
    const o = smtpOutcome(failure);
    assert.equal(o.kind, kind);
    if (o.kind !== 'delivered' && failure.responseCode !== undefined) assert.equal(o.status, failure.responseCode);
  });
}

test('the reason is the server\'s reply and the command it answered, without line breaks', () => {
  const o = smtpOutcome({ message: 'x', code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO', response: '550-5.1.1 No such user\r\n550 5.1.1 Check the address' });
  assert.deepEqual(o, { kind: 'token_invalid', reason: '550-5.1.1 No such user 550 5.1.1 Check the address (at RCPT TO)', status: 550 });
});

test('a long reply is cut in the reason', () => {
  const o = smtpOutcome(reply(554, 'DATA', `5.7.1 ${'x'.repeat(1000)}`));
  assert.ok(o.kind === 'rejected' && o.reason.length < 360);
});

test('enhanced status codes are read from single and multi-line replies only', () => {
  assert.equal(enhancedStatus('550 5.1.1 No such user'), '5.1.1');
  assert.equal(enhancedStatus('550-5.1.10 Null MX'), '5.1.10');
  assert.equal(enhancedStatus('550 Mailbox unavailable 5.1.1'), undefined);
  assert.equal(enhancedStatus(undefined), undefined);
});
