// The one place that knows PostgreSQL's (and the driver's) error codes.

/** What an error from pg says, where it says anything: its SQLSTATE (or errno) and constraint. */
const details = (error: unknown): { code?: string; constraint?: string } =>
  typeof error === 'object' && error !== null ? (error as { code?: string; constraint?: string }) : {};

/** A unique constraint refused the row; `constraint` names which one, when given. */
export const isUniqueViolation = (error: unknown, constraint?: string): boolean =>
  details(error).code === '23505' && (constraint === undefined || details(error).constraint === constraint);

/** Worth running again as it was: a serialization failure or a deadlock the database broke. */
export const isTransient = (error: unknown): boolean => ['40001', '40P01'].includes(details(error).code ?? '');

/** The database is not there right now: refused or reset, shutting down, starting up, no connection. */
export const isUnavailable = (error: unknown): boolean =>
  ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08001', '08006'].includes(details(error).code ?? '') ||
  /timeout exceeded when trying to connect|Connection terminated|not queryable/.test(error instanceof Error ? error.message : '');

/** The server cancelled a statement that ran past statement_timeout (its transaction is rolled back). */
export const isStatementTimeout = (error: unknown): boolean => details(error).code === '57014';

/** A foreign key refused the row: what it refers to is gone (or never was). */
export const isForeignKeyViolation = (error: unknown): boolean => details(error).code === '23503';
