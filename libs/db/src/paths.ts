import { basename, dirname, resolve } from 'node:path';

/**
 * The folder that holds `libs/` and `migrations/` for the code now running: the repository
 * when run from TypeScript (jest), `dist/` when run compiled. Entity and migration globs are
 * resolved from here so the same code finds `.ts` files in tests and `.js` files in production.
 */
export const RUNTIME_ROOT = resolve(__dirname, '..', '..', '..');

/** The repository root, where `migrations/*.ts` sources live, whether running from dist or not. */
export const SOURCE_ROOT = basename(RUNTIME_ROOT) === 'dist' ? dirname(RUNTIME_ROOT) : RUNTIME_ROOT;

/** Every lib's entities, found by file name so libs/db never imports another lib. */
export const ENTITY_GLOB = `${RUNTIME_ROOT}/libs/*/src/**/*.entity.{js,ts}`;

/** Migration classes, applied in timestamp order. */
export const MIGRATION_GLOB = `${RUNTIME_ROOT}/migrations/*.{js,ts}`;

/** Where `generate` writes new migrations: the TypeScript sources, never dist. */
export const MIGRATION_SOURCE_DIR = resolve(SOURCE_ROOT, 'migrations');
