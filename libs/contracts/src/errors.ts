/**
 * An error a person can act on: a stable upper-snake code, an HTTP status for
 * the API, and a message that says what to do next. Never carries key material.
 */
export class KeyturnError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'KeyturnError';
  }
}

export const notFound = (what: string, id: string) =>
  new KeyturnError(`${what.toUpperCase().replace(/\W+/g, '_')}_NOT_FOUND`, `${what} ${id} does not exist`, 404);
