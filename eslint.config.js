import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What workflow code may not import (it runs in Temporal's deterministic sandbox). */
const WORKFLOW_RESTRICTIONS = [
  { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process'], message: 'Workflow code must stay deterministic: do I/O in activities.' },
  {
    group: ['@grpc/*', 'jose', 'better-sqlite3', 'nodemailer', '**/src/api/client*', '**/src/api/auth*', '**/src/api/stream*', '**/src/api/config*', '**/src/api/gen/*', '**/src/sandbox/*', '**/activities/*'],
    message: 'Workflow code must not import I/O libraries; use `import type` for activity types.',
    allowTypeImports: true,
  },
];

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'src/api/gen', '.tools', '.data', 'test-results', 'bench-results'] },
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
