import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keywordAction, optInKeywords, optOutKeywords } from './keywords.js';

test('each of Twilio\'s opt-out keywords opts out, in any case and with surrounding spaces', () => {
  for (const k of optOutKeywords) {
    assert.equal(keywordAction(k), 'opt_out');
    assert.equal(keywordAction(` ${k.toLowerCase()}\n`), 'opt_out');
  }
});

test('START, YES and UNSTOP opt back in', () => {
  for (const k of optInKeywords) assert.equal(keywordAction(k.toLowerCase()), 'opt_in');
});

test('only a single keyword counts: "STOP PLEASE" and ordinary replies do nothing', () => {
  for (const body of ['STOP PLEASE', 'please cancel', 'HELP', 'Thanks!', '', 'STOPP']) assert.equal(keywordAction(body), undefined);
});

test('a Messaging Service\'s OptOutType wins over the body', () => {
  assert.equal(keywordAction('ARRET', 'STOP'), 'opt_out');
  assert.equal(keywordAction('stop', 'START'), 'opt_in');
  assert.equal(keywordAction('AIDE', 'HELP'), undefined);
});
