// A small typescript-eslint rule set (https://typescript-eslint.io/getting-started): the
// recommended rules, plus the type-aware ones that guard what Herald promises: a promise is never
// left floating (an unawaited commit is an acknowledgement that might not hold).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'sdk/web/dist/', 'dashboard/dist/', 'dashboard/src/api/openapi.d.ts', 'dashboard/src/api/credential-forms.ts', 'sdk/node/src/openapi.d.ts', 'sdk/node/dist/', 'bench/results/', 'cli/', '**/*.mjs', '**/*.js', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // A leading underscore names what a destructuring leaves out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Herald's validators match control characters on purpose (U+0000, CR/LF in headers).
      'no-control-regex': 'off',
      // A timer or handle declared before the closure that clears it, assigned once after.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // node:test's test() returns a promise the runner itself awaits; tests may use `any` for bodies.
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
