/** A refusal of `GET /api/v1/overview`, answered as `{ error: { code, message } }`. */
export class OverviewError extends Error {
  constructor(
    readonly code: 'INVALID_QUERY' | 'INTERNAL',
    message: string,
    readonly errorId?: string,
  ) {
    super(message);
    this.name = 'OverviewError';
  }
}
