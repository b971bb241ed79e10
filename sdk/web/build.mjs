// Builds the Web SDK: dist/herald.js (one ES module), dist/herald-in-app.js (the in-app messages'
// chunk herald.js imports when it has a message to show, one ES module that imports nothing),
// dist/herald-sw.js (the service worker, one classic script that imports nothing), their .d.ts,
// and dist/sizes.json (bytes, raw and gzipped).
// Run by the root `npm run build` and `prepare`.
import { spawnSync } from 'node:child_process';
import { copyFile, readFile, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
await mkdir(dist, { recursive: true });

// The SDK reports the package's version on its installation (src/version.ts).
const { version } = JSON.parse(await readFile(join(here, '../../package.json'), 'utf8'));
const common = {
  bundle: true, minify: true, target: 'es2020', platform: 'browser', legalComments: 'none', logLevel: 'warning',
  define: { __HERALD_SDK_VERSION__: JSON.stringify(version) },
};
await build({ ...common, entryPoints: [join(here, 'src/herald.ts')], outfile: join(dist, 'herald.js'), format: 'esm' });
// Its own entry point, not esbuild's code splitting: the chunk gets what it needs from herald.js at
// run time (types.ts, InAppHost), so neither file imports a shared third one.
await build({ ...common, entryPoints: [join(here, 'src/in-app-chunk.ts')], outfile: join(dist, 'herald-in-app.js'), format: 'esm' });
// A classic script: module service workers still miss some browsers, and importScripts is not needed.
await build({ ...common, entryPoints: [join(here, 'src/sw.ts')], outfile: join(dist, 'herald-sw.js'), format: 'iife' });

// The page a browser test (or a person trying the SDK) loads from Herald: see src/test.html.
await copyFile(join(here, 'src/test.html'), join(dist, 'test.html'));

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const types = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
if (types.status !== 0) process.exit(types.status ?? 1);
await writeFile(join(dist, 'herald.d.ts'), "export * from './types/herald.js';\n");

const sizes = {};
for (const name of ['herald.js', 'herald-in-app.js', 'herald-sw.js']) {
  const bytes = await readFile(join(dist, name));
  sizes[name] = { bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}
await writeFile(join(dist, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
if (process.env.npm_config_loglevel !== 'silent' && !process.argv.includes('--quiet')) {
  console.log(`web sdk: ${Object.entries(sizes).map(([n, s]) => `${n} ${s.bytes} B (${s.gzipBytes} B gzipped)`).join(', ')}`);
}
