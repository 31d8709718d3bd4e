import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Import boundaries: the layers of the house style (shared/design/house-style.md), checked.
const RULE = '@typescript-eslint/no-restricted-imports';
/** The composition root and the CLI import everything else; nothing imports them. */
const COMPOSITION_ROOT = {
  regex: '(^|/)(main|cli/[^/]+)\\.js$',
  message: 'nothing imports the composition root (src/main.ts) or the CLI (src/cli/); pass what you need in instead',
};
const MACHINES = { regex: '(^|/)machines/', message: 'upstream/ never imports machines/: the runtime classifies upstream results into machine events' };
const IO = {
  regex: '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls|worker_threads|cluster)$|^(undici|pg|ioredis|better-sqlite3|pino)$',
  message: 'routing/ and the cost/token parts of accounting/ are pure functions: no I/O (the ledger stores and the runtime do it)',
};
const IO_LAYERS = {
  regex: '(^|/)(runtime|http|upstream|observe|simulator|shared-state)/|(^|/)(sqlite|postgres)-[^/]*$',
  message: 'pure code does not reach into the I/O layers or the ledger stores',
  allowTypeImports: true,
};
/** The accounting files that are stores (I/O by design); the rest of accounting/ is pure. */
const LEDGER_STORES = [
  'src/accounting/*ledger*.ts',
  'src/accounting/*-cascade.ts',
  'src/accounting/response-store*.ts',
  'src/accounting/inflight-journal.ts',
  'src/accounting/journal-lock.ts',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test-artifacts/**', 'bench/results/**', 'scratch/**', 'src/observe/page/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['src/**/*.ts'], ignores: ['src/cli/**', 'src/bin/**'], rules: { [RULE]: ['error', { patterns: [COMPOSITION_ROOT] }] } },
  // Inside the CLI only the entry (src/cli/index.ts) loads the composition root and hands its starter on.
  {
    files: ['src/cli/**/*.ts'],
    ignores: ['src/cli/index.ts'],
    rules: { [RULE]: ['error', { patterns: [{ ...COMPOSITION_ROOT, regex: '(^|/)main\\.js$' }] }] },
  },
  { files: ['src/upstream/**/*.ts'], rules: { [RULE]: ['error', { patterns: [COMPOSITION_ROOT, MACHINES] }] } },
  {
    files: ['src/routing/**/*.ts', 'src/accounting/**/*.ts'],
    ignores: LEDGER_STORES,
    rules: { [RULE]: ['error', { patterns: [COMPOSITION_ROOT, IO, IO_LAYERS] }] },
  },
  {
    files: ['machines/**/*.ts'],
    rules: {
      [RULE]: ['error', { patterns: [{ regex: '^(?!xstate$|\\./)', message: 'machines/ are pure statecharts: they import only xstate and each other' }] }],
    },
  },
);
