import type { Migration, MigrationProvider } from 'kysely';
import * as init from './20261124T0900_init.js';
import * as projectionEpoch from './20261124T1130_projection_epoch.js';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '20261124T0900_init': init,
  '20261124T1130_projection_epoch': projectionEpoch,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
