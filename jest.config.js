/** Jest runs TypeScript through swc (decorator metadata included) so NestJS DI works in tests. */
const fs = require('node:fs');
const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/e2e'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }],
    // openid-client v6 and its dependencies, and cookie 2 (which @fastify/cookie imports), ship ESM
    // only; Jest's CJS runtime needs them compiled.
    '/node_modules/.+\\.js$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' },
        module: { type: 'commonjs' },
        swcrc: false,
      },
    ],
  },
  transformIgnorePatterns: [
    '^(?!.*/node_modules/(openid-client|oauth4webapi|@fastify/cookie|@marcbachmann/cel-js)/).*/node_modules/',
  ],
  moduleNameMapper: { '^@gatehouse/(.*)$': '<rootDir>/libs/$1/src/index.ts' },
  maxWorkers: 2,
  testTimeout: 60000,
  forceExit: false,
};
