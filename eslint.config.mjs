// Lint: typescript-eslint strict + type-checked, plus the house rules of STYLE.md §10.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TIME_BANS = [
  { name: 'setTimeout', message: 'Take a Clock (src/clock.ts) so tests can fake time.' },
  { name: 'setInterval', message: 'Take a Clock (src/clock.ts) so tests can fake time.' },
  { name: 'clearTimeout', message: 'Take a Clock (src/clock.ts) so tests can fake time.' },
  { name: 'clearInterval', message: 'Take a Clock (src/clock.ts) so tests can fake time.' },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', 'scripts/**', '**/scripts/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-exports': ['error', { restrictDefaultExports: { direct: true, named: true, defaultFrom: true, namedFrom: true, namespaceFrom: true } }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Export names explicitly (STYLE rule 10).' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@weft/*/src/*', '@weft/*/dist/*'], message: 'Import a package through its exports map.' }] }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/*/src/clock.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-globals': ['error', ...TIME_BANS],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use clock.now().' },
        { object: 'performance', property: 'now', message: 'Use clock.now().' },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
