/**
 * Two projects: the server (apps, libs, e2e) in Node, TypeScript through swc with decorator
 * metadata so NestJS DI works; and the console's component tests (`web/src/**\/*.test.tsx`) in
 * jsdom, TSX through swc with React's automatic runtime.
 */
const fs = require('node:fs');
const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));

const server = {
  displayName: 'server',
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
};

const web = {
  displayName: 'web',
  testEnvironment: 'jsdom',
  // The console lives under /console, as the gateway serves it.
  testEnvironmentOptions: { url: 'http://127.0.0.1:8080/console/' },
  roots: ['<rootDir>/web/src'],
  testMatch: ['**/*.test.tsx', '**/*.test.ts'],
  setupFiles: ['<rootDir>/web/src/test/globals.cjs'],
  setupFilesAfterEnv: ['<rootDir>/web/src/test/setup.ts'],
  transform: {
    '^.+\\.(ts|tsx)$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', tsx: true },
          transform: { react: { runtime: 'automatic' } },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        swcrc: false,
      },
    ],
  },
  moduleNameMapper: { '\\.css$': '<rootDir>/web/src/test/style-stub.ts' },
};

module.exports = {
  projects: [server, web],
  // Jest reads testTimeout from the top level only (a project's own is ignored): the server
  // specs' real gateways need the minute.
  testTimeout: 60000,
  maxWorkers: 2,
  forceExit: false,
};
