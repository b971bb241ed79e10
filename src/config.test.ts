import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from './paths.js';
import { configFlags, configOptions, ConfigError, loadConfig, renderConfigTable, secretKeys } from './config.js';
import { withConfigTable } from './config-docs.js';

test('the README\'s configuration table is the config schema as rendered (run `npm run docs` after changing src/config.ts)', async () => {
  const readme = await readFile(join(packageRoot, 'README.md'), 'utf8');
  assert.equal(readme, withConfigTable(readme, renderConfigTable()));
  for (const o of Object.values(configOptions)) assert.ok(readme.includes(`| \`--${o.flag}\` | \`${o.env}\` |`), o.flag);
});

test('every option is a flag of herald start, and a flag wins over the environment', () => {
  const { values } = parseArgs({ args: ['--rate-sdk-events', '5', '--sandbox'], options: configFlags(), strict: true });
  const c = loadConfig(values, { HERALD_RATE_SDK_EVENTS: '7', HERALD_PORT: '9000' });
  assert.equal(c.rateLimits.sdkEventsPerSecond, 5);
  assert.equal(c.sandbox, true);
  assert.equal(c.port, 9000);
  assert.equal(c.publicUrl, 'https://localhost:9000');
  for (const o of Object.values(configOptions)) assert.ok(o.flag in configFlags(), o.flag);
});

test('bad values are refused naming the flag', () => {
  assert.throws(() => loadConfig({ port: '70000' }, {}), (e: unknown) => e instanceof ConfigError && /--port/.test(e.message));
  assert.throws(() => loadConfig({}, { HERALD_SANDBOX: 'maybe' }), /--sandbox must be true or false/);
  assert.throws(() => loadConfig({}, { HERALD_PUBLIC_URL: 'ftp://x' }), /--public-url must be an http\(s\) URL/);
  assert.throws(() => loadConfig({ role: 'boss' }, {}), /--role must be one of/);
});

test('the secrets are the database and NATS URLs and the master key', () => {
  assert.deepEqual([...secretKeys].sort(), ['databaseUrl', 'masterKey', 'natsUrl', 'previousMasterKey']);
});
