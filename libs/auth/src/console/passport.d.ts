/**
 * The part of passport 0.7 (which ships no types) that console sign-in and openid-client's
 * passport strategy use. Kept narrow on purpose: anything not declared here is not used.
 */
declare module 'passport' {
  export type AuthenticateCallback = (
    err: unknown,
    user?: unknown,
    info?: unknown,
    status?: number | number[],
  ) => void;

  export interface AuthenticateOptions {
    session?: boolean;
    [option: string]: unknown;
  }

  /** The actions passport binds to a strategy for one request. */
  export interface StrategyCreatedStatic {
    success(user: unknown, info?: unknown): void;
    fail(challenge?: unknown, status?: number): void;
    redirect(url: string, status?: number): void;
    pass(): void;
    error(err: unknown): void;
  }

  export type StrategyCreated<T, O = T & StrategyCreatedStatic> = {
    [P in keyof O]: O[P];
  };

  export interface Strategy {
    name?: string | undefined;
    authenticate(this: StrategyCreated<this>, req: unknown, options?: unknown): unknown;
  }

  type Middleware = (req: unknown, res: unknown, next: (err?: unknown) => void) => void;

  export class Authenticator {
    use(strategy: Strategy): this;
    use(name: string, strategy: Strategy): this;
    unuse(name: string): this;
    authenticate(
      strategy: string | string[] | Strategy,
      options: AuthenticateOptions,
      callback?: AuthenticateCallback,
    ): Middleware;
  }

  export class Passport extends Authenticator {}

  const passport: Authenticator & { Passport: typeof Passport; Authenticator: typeof Authenticator };
  export default passport;
}
