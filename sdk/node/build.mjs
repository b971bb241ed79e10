// Builds the Node SDK into sdk/node/dist (ES modules and their .d.ts). With --types, first
// regenerates src/openapi.d.ts from the API (generate-types.mjs); without it the committed file is
// used, and the test suite says when it is stale. Run by the root `npm run build` and `prepare`,
// after the root tsc.
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTypes, typesFile } from './generate-types.mjs';

const here = dirname(fileURLToPath(import.meta.url));
if (process.argv.includes('--types')) writeFileSync(typesFile, await generateTypes());

rmSync(join(here, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
// tsc does not copy a declaration file it reads: the API's types ship beside the declarations that import them.
copyFileSync(typesFile, join(here, 'dist/openapi.d.ts'));
