import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { OverviewModule } from './overview/overview.module';
import { ConsoleIndex, consoleDir, consoleHeaders, newNonce } from './console-files';

/** Where the console lives on the gateway. */
export const CONSOLE_PATH = '/console';

/**
 * Serves the built console (`dist/web`, written by `npm run build`) at /console:
 * - `/console/assets/*`: content-hashed files, cached for a year and immutable;
 * - every other path under /console: `index.html` (the single-page app routes it), never cached,
 *   with a fresh nonce for Mantine's `<style>` elements in its Content-Security-Policy;
 * - every answer under /console carries the CSP, `Referrer-Policy`, `X-Content-Type-Options`;
 * - without a build, /console answers 503 `CONSOLE_NOT_BUILT` saying how to build it.
 * `/` sends a browser to the console (where the IdP's sign-out also lands).
 */
@Module({ imports: [OverviewModule] })
export class ConsoleModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    serveConsole(this.adapterHost.httpAdapter.getInstance<FastifyInstance>(), consoleDir());
  }
}

export function serveConsole(fastify: FastifyInstance, dir: string): void {
  const index = new ConsoleIndex(dir);

  const sendIndex = (reply: FastifyReply): FastifyReply => {
    const nonce = newNonce();
    const html = index.render(nonce);
    if (html === undefined) {
      return reply
        .code(503)
        .headers({ ...consoleHeaders(), 'cache-control': 'no-store' })
        .type('application/json')
        .send({
          error: {
            code: 'CONSOLE_NOT_BUILT',
            message: `the console is not built (${join(dir, 'index.html')} is missing): run \`npm run build\` (npm start does it) and restart the gateway`,
          },
        });
    }
    return reply
      .code(200)
      .headers({ ...consoleHeaders(nonce), 'cache-control': 'no-cache' })
      .type('text/html; charset=utf-8')
      .send(html);
  };

  void fastify.register(async (scope) => {
    // Assets are served only when built; a missing one is a 404, never the page.
    const assets = join(dir, 'assets');
    if (!existsSync(assets)) {
      scope.get(`${CONSOLE_PATH}/assets/*`, (_request, reply) => sendIndex(reply));
    } else {
      await scope.register(fastifyStatic, {
        root: assets,
        prefix: `${CONSOLE_PATH}/assets/`,
        decorateReply: false,
        wildcard: true,
        index: false,
        dotfiles: 'ignore',
        cacheControl: false,
        // @fastify/static 9 hands the raw response, 10 the Fastify reply: either is written to.
        setHeaders: (target: unknown) => {
          const out = target as {
            header?: (name: string, value: string) => unknown;
            setHeader?: (name: string, value: string) => unknown;
          };
          const headers = { ...consoleHeaders(), 'cache-control': 'public, max-age=31536000, immutable' };
          for (const [name, value] of Object.entries(headers)) {
            if (typeof out.header === 'function') out.header(name, value);
            else out.setHeader?.(name, value);
          }
        },
      });
    }
    scope.get(CONSOLE_PATH, (_request, reply) => sendIndex(reply));
    scope.get(`${CONSOLE_PATH}/*`, (_request, reply) => sendIndex(reply));
    scope.get('/', (_request, reply) =>
      reply
        .code(302)
        .headers({ location: `${CONSOLE_PATH}/`, 'cache-control': 'no-store' })
        .send(),
    );
  });
}
