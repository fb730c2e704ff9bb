import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers: product code (src/, workflows/, activities/, examples/) never depends on the local-stack
// tooling (dev/) or on tests (test/); the tooling and the scripts never depend on tests.
// (A file gets one no-restricted-imports setting, the last block that matches it: later blocks repeat these.)
const NOT_DEV_OR_TEST = { regex: '(^|/)(dev|test)(/|$)', message: 'Product code must not import dev/ (local-stack tooling) or test/.' };
const NOT_TEST = { regex: '(^|/)test(/|$)', message: 'dev/ and scripts/ must not import test/: move what they share into dev/.' };

/** What workflow code may not import (it runs in Temporal's deterministic sandbox). */
const WORKFLOW_RESTRICTIONS = [
  NOT_DEV_OR_TEST,
  { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process'], message: 'Workflow code must stay deterministic: do I/O in activities.' },
  {
    group: ['@grpc/*', 'jose', 'better-sqlite3', 'nodemailer', '**/src/api/client*', '**/src/api/auth*', '**/src/api/stream*', '**/src/api/config*', '**/src/api/gen/*', '**/src/sandbox/*', '**/activities/*'],
    message: 'Workflow code must not import I/O libraries; use `import type` for activity types.',
    allowTypeImports: true,
  },
];

export default tseslint.config(
  { ignores: ['node_modules', 'src/api/gen', '.tools', '.data', 'test-results', 'bench-results'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', AbortController: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts', 'activities/**/*.ts', 'examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_DEV_OR_TEST] }] },
  },
  {
    files: ['dev/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_TEST] }] },
  },
  {
    // Pure module shared with workflow code: no Node built-ins, no I/O.
    files: ['src/temporal/names.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_DEV_OR_TEST, { regex: '^node:', message: 'names.ts is pure: workflow code imports it.' }] }] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries.
    files: ['workflows/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: WORKFLOW_RESTRICTIONS }] },
  },
  {
    // The state machines and the Web UI texts are pure: unit-tested without Temporal.
    files: ['workflows/**/state.ts', 'workflows/**/details.ts', 'workflows/markdown.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [...WORKFLOW_RESTRICTIONS, { group: ['@temporalio/*'], message: 'State machines and texts stay pure: the workflow shell (workflow.ts) makes the Temporal calls.' }],
      }],
    },
  },
);
