// `npm run bench -- NAME`: runs the compiled benchmark dist/bench/NAME.js.
import { existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';

const name = process.argv[2];
const available = readdirSync('dist/bench').filter((f) => f.endsWith('.js') && f !== 'noop-server.js').map((f) => f.slice(0, -3));
if (!name || !existsSync(`dist/bench/${name}.js`)) {
  console.error(`usage: npm run bench -- NAME   (one of: ${available.join(', ')})`);
  process.exit(2);
}
const child = spawn(process.execPath, ['--enable-source-maps', `dist/bench/${name}.js`, ...process.argv.slice(3)], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));
