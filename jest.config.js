/** Jest runs TypeScript through swc (decorator metadata included) so NestJS DI works in tests. */
const fs = require('node:fs');
const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/e2e'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] },
  moduleNameMapper: { '^@gatehouse/(.*)$': '<rootDir>/libs/$1/src/index.ts' },
  maxWorkers: 2,
  testTimeout: 60000,
  forceExit: false,
};
