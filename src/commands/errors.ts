export interface FieldError {
  path: string;
  message: string;
}

/**
 * A refusal the caller can act on. It carries the HTTP status and a stable
 * UPPER_SNAKE `code`; the API maps it to problem+json in one place.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, path: string, message: string): DomainError => new DomainError(400, code, `${path}: ${message}`, [{ path, message }]);

export const notFound = (code: string, message: string): DomainError => new DomainError(404, code, message);

export const conflict = (code: string, message: string): DomainError => new DomainError(409, code, message);

/** To anyone who is not a member, a group does not exist: every route says so the same way. */
export const groupNotFound = (): DomainError => notFound('GROUP_NOT_FOUND', 'group not found');
