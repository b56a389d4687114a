import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', '.tap/', 'coverage/', '.fairshare/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  {
    // Dependency rules of DESIGN.md §1: events and money import nothing else of the project.
    files: ['src/events/**', 'src/money/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../*/**', '../../**'] }],
    },
  },
  {
    // Deciders are pure: no database, HTTP, projection or clock code.
    files: ['src/commands/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '../db/**',
            '../api/**',
            '../projections/**',
            '../store/**',
            '../unit-of-work/**',
            '../read-model/**',
            '../live/**',
            '../users/**',
            'pg',
            'kysely',
            'fastify',
          ],
        },
      ],
    },
  },
  {
    // The verifier's whole value is its independence from the projector.
    files: ['src/replay/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../projections/**', '../api/**'] }] },
  },
  {
    files: ['src/projections/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../api/**', '../unit-of-work/**', '../read-model/**', '../live/**', '../users/**'] }] },
  },
  {
    // The web page runs in browsers and talks to the server only over HTTP.
    files: ['src/web/**'],
    languageOptions: {
      globals: {
        window: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        document: 'readonly',
        localStorage: 'readonly',
        navigator: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        TextDecoder: 'readonly',
        Intl: 'readonly',
        HTMLElement: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLSelectElement: 'readonly',
        Event: 'readonly',
        Response: 'readonly',
        ReadableStream: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: { 'no-restricted-imports': ['error', { patterns: ['../*/**', 'node:*'] }] },
  },
  {
    // Tests read JSON bodies whose shape each assertion checks.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['migrations/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-imports': ['error', { patterns: ['../src/**'] }],
    },
  },
);
