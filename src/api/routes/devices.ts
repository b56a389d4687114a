import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DomainError, notFound } from '../../commands/errors.js';
import { createSignInKey, listDevices, renameDevice, revokeDevice, signInWithKey, type Device as DeviceRow } from '../../users/devices.js';
import { CODE_LIFETIME_MINUTES, issueSignInCode, redeemSignInCode } from '../../users/sign-in-codes.js';
import { authenticate, currentDevice, currentUser, unauthenticated } from '../auth.js';
import type { ApiDeps } from '../context.js';
import { Problem } from '../schemas/common.js';
import { Device, DeviceName, DeviceParams, SignedIn } from '../schemas/devices.js';

const deviceNotFound = () => notFound('DEVICE_NOT_FOUND', 'you have no such device');

/** Unknown, expired and used codes answer alike: the answer tells a guesser nothing. */
const codeInvalid = () =>
  new DomainError(
    400,
    'SIGN_IN_CODE_INVALID',
    `the sign-in code is not valid: it may be mistyped, used already or expired (a code works once, for ${CODE_LIFETIME_MINUTES} minutes). Ask for a new one on a device that is signed in`,
  );

const keyInvalid = () => new DomainError(400, 'SIGN_IN_KEY_INVALID', 'the sign-in key is not valid: it may be mistyped, or it was revoked under Devices');

const present = (d: DeviceRow, current: string) => ({
  deviceId: d.deviceId,
  kind: d.kind,
  name: d.name,
  createdAt: d.createdAt.toISOString(),
  lastUsedAt: d.lastUsedAt.toISOString(),
  current: d.deviceId === current,
});

/**
 * An account's devices (issue #13 §5): every signed-in device has a token of its own,
 * listed, renamed and revoked here; another device signs in with a one-time code shown
 * on a signed-in one, or with a saved sign-in key. Anything carrying a secret is sent
 * with `cache-control: no-store`.
 */
export const deviceRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const auth = authenticate(deps.db);
    const security = [{ bearer: [] }];
    const tags = ['devices'];

    app.get(
      '/me/devices',
      {
        onRequest: auth,
        schema: {
          summary: 'Your signed-in devices and saved sign-in keys, oldest first',
          tags,
          security,
          response: { 200: z.object({ devices: z.array(Device) }), 401: Problem },
        },
      },
      async (request) => {
        const devices = await listDevices(deps.db, currentUser(request).userId);
        return { devices: devices.map((d) => present(d, currentDevice(request))) };
      },
    );

    app.patch(
      '/me/devices/:deviceId',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary: 'Rename one of your devices or keys',
          tags,
          security,
          params: DeviceParams,
          body: z.strictObject({ name: DeviceName }),
          response: { 200: Device, 400: Problem, 401: Problem, 404: Problem },
        },
      },
      async (request) => {
        const renamed = await renameDevice(deps.db, currentUser(request).userId, request.params.deviceId, request.body.name);
        if (!renamed) throw deviceNotFound();
        request.log.info({ deviceId: renamed.deviceId }, 'device renamed');
        return present(renamed, currentDevice(request));
      },
    );

    app.delete(
      '/me/devices/:deviceId',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary:
            'Revoke one of your devices or keys: its token stops working at once, its open live streams end, and the sign-in codes it made die. Revoking the device you send this from signs it out.',
          tags,
          security,
          params: DeviceParams,
          response: { 204: z.null(), 400: Problem, 401: Problem, 404: Problem },
        },
      },
      async (request, reply) => {
        const { deviceId } = request.params;
        const revoked = await revokeDevice(deps.db, currentUser(request).userId, deviceId);
        if (!revoked) throw deviceNotFound();
        const streams = deps.deviceStreams.revoked(deviceId);
        const self = deviceId === currentDevice(request);
        request.log.info({ deviceId, kind: revoked.kind, byDeviceId: currentDevice(request), streams }, self ? 'device signed out' : 'device revoked');
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/me/sign-in-keys',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary:
            'Make a sign-in key to save (a password manager, a file): it signs a new device in at POST /sign-in, as often as needed, until it is revoked. It is not a bearer token. Shown only this once.',
          tags,
          security,
          body: z.strictObject({ name: DeviceName.optional() }).nullish(),
          response: { 201: Device.omit({ current: true }).extend({ key: z.string() }), 400: Problem, 401: Problem },
        },
      },
      async (request, reply) => {
        const made = await createSignInKey(deps.db, currentUser(request).userId, currentDevice(request), request.body?.name);
        if (!made) return unauthenticated(reply, true);
        request.log.info({ deviceId: made.deviceId, byDeviceId: currentDevice(request) }, 'sign-in key made');
        const { current: _, ...view } = present(made, currentDevice(request));
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({ ...view, key: made.key });
      },
    );

    app.post(
      '/me/sign-in-codes',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary: `A one-time code to sign another device in (POST /sign-in): it works once, for ${CODE_LIFETIME_MINUTES} minutes, and replaces the code this device made before. Revoking this device kills it.`,
          tags,
          security,
          body: z.strictObject({}).nullish(),
          response: {
            201: z.object({ code: z.string().describe('12 characters in 3 groups of 4, e.g. "7KQM-XR4D-PW9T"'), expiresAt: z.iso.datetime() }),
            400: Problem,
            401: Problem,
          },
        },
      },
      async (request, reply) => {
        const made = await issueSignInCode(deps.db, currentUser(request).userId, currentDevice(request));
        if (!made) return unauthenticated(reply, true);
        request.log.info({ byDeviceId: currentDevice(request), expiresAt: made.expiresAt }, 'sign-in code issued');
        return reply.code(201).header('cache-control', 'no-store').send({ code: made.code, expiresAt: made.expiresAt.toISOString() });
      },
    );

    app.post(
      '/sign-in',
      {
        // Every attempt counts against the address's sign-up budget: guessing codes is slow.
        onRequest: deps.rateLimits.signups,
        schema: {
          summary:
            'Sign this device in with a one-time code from a signed-in device, or with a saved sign-in key: the device gets a bearer token of its own (shown only this once)',
          tags,
          body: z
            .strictObject({
              code: z.string().max(100).optional().describe('A code from POST /me/sign-in-codes (case, spaces and dashes do not matter)'),
              key: z.string().max(200).optional().describe("A saved sign-in key (or a signed-in device's token)"),
              deviceName: DeviceName.optional(),
            })
            .refine((b) => (b.code === undefined) !== (b.key === undefined), { message: 'send either a code or a key' }),
          response: { 201: SignedIn, 400: Problem, 429: Problem },
        },
      },
      async (request, reply) => {
        const { code, key, deviceName } = request.body;
        if (code !== undefined) {
          const signedIn = await redeemSignInCode(deps.db, code, deviceName);
          if (!signedIn) throw codeInvalid();
          request.log.info({ userId: signedIn.userId, deviceId: signedIn.deviceId }, 'sign-in code redeemed: device signed in');
          return reply.code(201).header('cache-control', 'no-store').send(signedIn);
        }
        const signedIn = await signInWithKey(deps.db, key as string, deviceName);
        if (!signedIn) throw keyInvalid();
        const { keyId, ...body } = signedIn;
        request.log.info({ userId: body.userId, deviceId: body.deviceId, keyId }, 'signed in with a key: device signed in');
        return reply.code(201).header('cache-control', 'no-store').send(body);
      },
    );
  };
