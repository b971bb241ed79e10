/**
 * Comments and docs cite primary sources (an RFC and its section, a vendor's documentation URL,
 * another project's issue) or files of this repository, never notes that only existed next to it:
 * someone who clones Herald cannot follow those. Every tracked file, and every new one git does not
 * ignore, is read; a line naming such a note fails the test with its file and line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from './paths.js';

// Built from parts, so this file does not cite what it forbids.
const notes = ['protocols', 'reliability', 'sandbox-api', 'batch-platform', 'style', 'engagement', 'peers'].map((n) => n + '\\.md');
const forbidden = new RegExp(`(?:^|[^\\w-])(?:${notes.join('|')})\\b|shared[/ ]reference`, 'i');

async function repositoryFiles(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: packageRoot,
    maxBuffer: 64 << 20,
  });
  return stdout.split('\0').filter((f) => f !== '');
}

test('no file of the repository cites a note that is not in it', async () => {
  const files = await repositoryFiles();
  assert.ok(files.includes('src/citations.test.ts'), 'git lists the repository from its root');
  const offending: string[] = [];
  for (const file of files) {
    const text = await readFile(join(packageRoot, file), 'utf8').catch(() => '');
    if (text.includes('\0')) continue; // binary
    text.split('\n').forEach((line, i) => {
      if (forbidden.test(line)) offending.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offending, [], 'cite the primary source instead:\n' + offending.join('\n'));
});

// A section sign names a section of something: the same line, or the one before it (a sentence
// wrapped across two comment lines), says of what.
const section = /§\s?\d/;
const sectionSource = /RFC ?\d+|https?:\/\/|\b(?:SEC|NIST|FIPS|ITU-T|U\.S\.C|X9\.62|ECMA|ISO|W3C)\b/;

test('every section reference says which document it is a section of', async () => {
  const files = (await repositoryFiles()).filter((f) => /\.(?:ts|mjs|js|cjs)$/.test(f) && !f.includes('/dist/'));
  const bare: string[] = [];
  for (const file of files) {
    const lines = (await readFile(join(packageRoot, file), 'utf8').catch(() => '')).split('\n');
    lines.forEach((line, i) => {
      if (section.test(line) && !sectionSource.test(line) && !sectionSource.test(lines[i - 1] ?? '')) {
        bare.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(bare, [], 'name the document (an RFC, a URL) beside the section:\n' + bare.join('\n'));
});
