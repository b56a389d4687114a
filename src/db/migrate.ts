import { Migrator } from 'kysely';
import { migrationProvider } from '../../migrations/index.js';
import type { Db } from './database.js';

export interface MigrateResult {
  applied: string[];
}

/** Brings the schema up to date. Safe to run from several processes at once. */
export async function migrateToLatest(db: Db): Promise<MigrateResult> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? '(unknown)'} failed: ${String(error)}`, { cause: error });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
