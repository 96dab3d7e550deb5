// ESLint (flat config) with typescript-eslint: the recommended rules everywhere, and the
// type-aware promise rules on the server, CLI and provider, where a forgotten await or a promise
// handed to a callback that ignores it loses an error or an audit event silently.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

module.exports = tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'release/**',
      '.release-build/**',
      '**/cdktf.out/**',
      '**/.gen/**',
      // Generated from the provider's schema by `npm run gen:bindings`.
      'constructs/teleport/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Validators here match control characters on purpose (refusing or escaping them is their
      // job); the rule cannot tell that from an accident.
      'no-control-regex': 'off',
      // `_`-prefixed names are deliberately unused (positional parameters, destructuring rests).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests read untyped answers (JSON, protobuf, Terraform state) and load modules lazily after
    // setting the environment a module reads at load.
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Migrations see the schema as it was at their version, not the application's types; Kysely's
    // own guide types them Kysely<any>.
    files: ['api/store/migrations.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['api/**/*.ts', 'cli/**/*.ts', 'client/**/*.ts', 'provider/**/*.ts', 'schema/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
);
