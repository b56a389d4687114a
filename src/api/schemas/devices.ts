import { z } from 'zod';
import { StoredId, text } from './common.js';

export const DeviceName = text(100).describe('A name the person recognises, e.g. "Firefox on Linux" or "Ann\'s phone"');

export const DeviceParams = z.strictObject({ deviceId: z.guid('must be a device id (a UUID)') });

export const Device = z.object({
  deviceId: z.string(),
  kind: z.enum(['device', 'key']).describe('`device`: a signed-in device with a bearer token; `key`: a saved sign-in key, which only signs new devices in'),
  name: z.string(),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().describe('Recorded at most once a minute'),
  current: z.boolean().describe('The device this request came from'),
});

/** A device just signed in (sign-up, a code or a key): its bearer token is shown only this once. */
export const SignedIn = z.object({
  userId: StoredId,
  name: z.string(),
  deviceId: z.string(),
  token: z.string().describe("The new device's bearer token (shown only this once)"),
});
