import type { Migration, MigrationProvider } from 'kysely';
import * as init from './20261124T0900_init.js';
import * as projectionEpoch from './20261124T1130_projection_epoch.js';
import * as idempotentOutcomes from './20261125T1600_idempotent_outcomes.js';
import * as projectionRebuilds from './20261125T1700_projection_rebuilds.js';
import * as logCheckpoints from './20261125T1900_log_checkpoints.js';
import * as projectionChanges from './20261125T2000_projection_changes.js';
import * as groupLifeCycle from './20261126T0000_group_life_cycle.js';
import * as invites from './20261126T0100_invites.js';
import * as nameOnlyMembers from './20261126T0200_name_only_members.js';
import * as invitesForAPlace from './20261126T0210_invites_for_a_place.js';
import * as devices from './20261126T0300_devices.js';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '20261124T0900_init': init,
  '20261124T1130_projection_epoch': projectionEpoch,
  '20261125T1600_idempotent_outcomes': idempotentOutcomes,
  '20261125T1700_projection_rebuilds': projectionRebuilds,
  '20261125T1900_log_checkpoints': logCheckpoints,
  '20261125T2000_projection_changes': projectionChanges,
  '20261126T0000_group_life_cycle': groupLifeCycle,
  '20261126T0100_invites': invites,
  '20261126T0200_name_only_members': nameOnlyMembers,
  '20261126T0210_invites_for_a_place': invitesForAPlace,
  '20261126T0300_devices': devices,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
