/** The built Web SDK stays small and self-contained: no import of anything at run time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../../src/paths.js';

const dist = join(packageRoot, 'sdk', 'web', 'dist');
/** docs/sdk-web.md states the size; this budget catches a dependency creeping in. */
const gzipBudgetBytes = 6 * 1024;

test('herald.js is one ES module under 6 KiB gzipped that imports nothing', async () => {
  const code = await readFile(join(dist, 'herald.js'), 'utf8');
  const gz = gzipSync(code, { level: 9 }).length;
  assert.ok(gz < gzipBudgetBytes, `herald.js is ${gz} bytes gzipped`);
  assert.doesNotMatch(code, /\bimport\s*[\s{*"'(]|\brequire\(/);
  assert.match(code, /\bexport\s*\{/);
});

test('herald-sw.js is a classic script that imports nothing (no import, importScripts or export)', async () => {
  const code = await readFile(join(dist, 'herald-sw.js'), 'utf8');
  assert.ok(gzipSync(code, { level: 9 }).length < gzipBudgetBytes);
  assert.doesNotMatch(code, /\bimport\s*[\s{*"'(]|\bimportScripts\(|\bexport\s*\{|\brequire\(/);
});

test('the build ships the type declarations of the public API', async () => {
  const dts = await readFile(join(dist, 'types', 'herald.d.ts'), 'utf8');
  for (const fn of ['init', 'track', 'identify', 'logout', 'setAttributes', 'editAttributes', 'subscribeToPush', 'flush']) {
    assert.match(dts, new RegExp(`export declare function ${fn}\\(`), fn);
  }
});
