/** The built Web SDK stays small and self-contained: nothing imported at run time but its own chunk. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../../src/paths.js';

const dist = join(packageRoot, 'sdk', 'web', 'dist');
/** docs/sdk-web.md states the sizes; these budgets catch a dependency creeping in. */
const gzipBudgetBytes = 6 * 1024;
const inAppGzipBudgetBytes = 5 * 1024;
const anyImport = /\bimport\s*[\s{*"'(]|\brequire\(/;

test('herald.js is one ES module under 6 KiB gzipped whose one import is its in-app chunk, at run time, from beside it', async () => {
  const code = await readFile(join(dist, 'herald.js'), 'utf8');
  const gz = gzipSync(code, { level: 9 }).length;
  assert.ok(gz < gzipBudgetBytes, `herald.js is ${gz} bytes gzipped`);
  // The dynamic import() of herald-in-app.js (or of the inAppUrl option), and nothing else.
  const chunkImport = /\bimport\(\w+\.inAppUrl\?\?new URL\("herald-in-app\.js",import\.meta\.url\)\.href\)/g;
  assert.equal(code.match(chunkImport)?.length, 1, 'the chunk\'s import');
  assert.doesNotMatch(code.replace(chunkImport, ''), anyImport);
  assert.match(code, /\bexport\s*\{/);
});

test('herald-in-app.js is one ES module under 5 KiB gzipped that imports nothing and exports start', async () => {
  const code = await readFile(join(dist, 'herald-in-app.js'), 'utf8');
  const gz = gzipSync(code, { level: 9 }).length;
  assert.ok(gz < inAppGzipBudgetBytes, `herald-in-app.js is ${gz} bytes gzipped`);
  assert.doesNotMatch(code, anyImport);
  assert.match(code, /\bexport\s*\{\s*\w+ as start\s*\}/);
});

test('herald-sw.js is a classic script that imports nothing (no import, importScripts or export)', async () => {
  const code = await readFile(join(dist, 'herald-sw.js'), 'utf8');
  assert.ok(gzipSync(code, { level: 9 }).length < gzipBudgetBytes);
  assert.doesNotMatch(code, /\bimport\s*[\s{*"'(]|\bimportScripts\(|\bexport\s*\{|\brequire\(/);
});

test('the build ships the type declarations of the public API', async () => {
  const dts = await readFile(join(dist, 'types', 'herald.d.ts'), 'utf8');
  for (const fn of ['init', 'track', 'identify', 'logout', 'setAttributes', 'editAttributes', 'subscribeToPush', 'flush', 'onInAppMessage']) {
    assert.match(dts, new RegExp(`export declare function ${fn}\\(`), fn);
  }
  assert.match(dts, /export declare const inApp: \{\s*\/\*\*[^]*?\*\/\s*suppress\(on: boolean\): void;/);
  const types = await readFile(join(dist, 'types', 'types.d.ts'), 'utf8');
  for (const t of ['InAppMessage', 'InAppContent', 'InAppButton', 'InAppControls', 'InAppListener']) {
    assert.match(types, new RegExp(`export (interface|type) ${t}\\b`), t);
  }
});
