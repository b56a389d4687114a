import type { Migration, MigrationProvider } from 'kysely';
import * as init from './20261124T0900_init.js';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '20261124T0900_init': init,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
