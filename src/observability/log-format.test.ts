/** Pretty logs on a terminal (pino-pretty), JSON elsewhere; secrets redacted in both. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, prettyLogs } from './logger.js';
import { loadConfig } from '../config.js';

function capture(): { stream: Writable; text(): string } {
  let out = '';
  return { stream: new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } }), text: () => out };
}

test('auto is pretty on a terminal and JSON elsewhere; json and pretty are what they say', () => {
  assert.equal(prettyLogs('auto', true), true);
  assert.equal(prettyLogs('auto', false), false);
  assert.equal(prettyLogs('json', true), false);
  assert.equal(prettyLogs('pretty', false), true);
  assert.equal(loadConfig({}, {}).logFormat, 'auto');
  assert.equal(loadConfig({}, { HERALD_LOG_FORMAT: 'json' }).logFormat, 'json');
  assert.throws(() => loadConfig({ 'log-format': 'xml' }, {}), /--log-format must be one of auto, json, pretty/);
});

test('a pretty line is for people, and still redacts every secret', () => {
  const out = capture();
  const log = createLogger('info', { format: 'pretty', destination: out.stream });
  log.info({ password: 'hunter2', req: { headers: { authorization: 'Bearer hrld_rest_secret' } }, databaseUrl: 'postgres://u:pw@db/x', project: 'p1' }, 'delivered');
  const text = out.text();
  assert.ok(!text.trimStart().startsWith('{'), text);
  assert.match(text, /INFO.*delivered/);
  assert.match(text, /project: "p1"/);
  for (const secret of ['hunter2', 'hrld_rest_secret', 'u:pw@db']) assert.ok(!text.includes(secret), `${secret} redacted:\n${text}`);
  assert.match(text, /\[redacted\]/);
});

test('a JSON line stays JSON, redacted the same way', () => {
  const out = capture();
  createLogger('info', { format: 'json', destination: out.stream }).info({ password: 'hunter2' }, 'delivered');
  const line = JSON.parse(out.text()) as Record<string, unknown>;
  assert.equal(line.msg, 'delivered');
  assert.equal(line.password, '[redacted]');
});
