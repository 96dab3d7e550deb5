// One jest run covers every suite: unit, API, moto-backed joins, provider protocol, Terraform e2e.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60_000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/support/global-setup.js',
  // api/version.ts reads the version as `require('../../package.json')`, a path right for the
  // compiled dist/api/version.js (and what esbuild inlines into the single executable); suites
  // that import it from the sources get the same file.
  moduleNameMapper: { '^\\.\\./\\.\\./package\\.json$': '<rootDir>/package.json' },
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/examples/.*/cdktf.out/'],
};
