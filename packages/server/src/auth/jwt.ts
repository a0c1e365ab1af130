import type { JsonValue } from '@fleetgate/protocol';
import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type JWTVerifyOptions,
  SignJWT,
} from 'jose';
import type { Config } from '../config/schema.js';

export type TokenConfig = Config['client']['token'];

/** Why a token was refused: `expired` tokens are renewable (109/3005), `invalid` ones are not (3500/103). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly kind: 'invalid' | 'expired',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ConnectClaims {
  readonly user: string;
  /** Unix seconds when the connection expires; undefined when it never does. */
  readonly expireAt: number | undefined;
  readonly info: JsonValue | undefined;
  readonly channels: readonly string[];
}

export interface SubscribeClaims {
  readonly user: string;
  readonly channel: string;
  /** When set, only this client id may use the token. */
  readonly client: string | undefined;
  readonly expireAt: number | undefined;
  readonly info: JsonValue | undefined;
}

type Key = Awaited<ReturnType<typeof importSPKI>> | Uint8Array;
type Loader = () => Promise<Key>;

const once = (load: Loader): Loader => {
  let pending: Promise<Key> | undefined;
  return () => (pending ??= load());
};

/** Verifies Centrifugo-style connection tokens with the configured keys (HMAC, RSA, ECDSA, JWKS). */
export class TokenVerifier {
  private readonly getKey: JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;

  constructor(config: TokenConfig) {
    const { hmacSecret, rsaPublicKey, ecdsaPublicKey, jwksUrl } = config;
    const byFamily: Partial<Record<'HS' | 'RS' | 'ES', Loader>> = {};
    if (hmacSecret !== undefined) {
      const key = new TextEncoder().encode(hmacSecret);
      byFamily.HS = async () => key;
    }
    if (rsaPublicKey !== undefined) byFamily.RS = once(() => importSPKI(rsaPublicKey, 'RS256'));
    if (ecdsaPublicKey !== undefined) byFamily.ES = once(() => importSPKI(ecdsaPublicKey, 'ES256'));
    const jwks = jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(jwksUrl));
    this.getKey = async (header, token) => {
      const load = byFamily[header.alg.slice(0, 2) as 'HS' | 'RS' | 'ES'];
      if (load) return load();
      if (jwks && header.kid !== undefined) return jwks(header, token);
      throw new TokenError('invalid', `no key configured for algorithm ${header.alg}`);
    };
    this.options = {
      algorithms: ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'],
      ...(config.audience === undefined ? {} : { audience: config.audience }),
      ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    };
  }

  async verifyConnect(token: string): Promise<ConnectClaims> {
    const claims = await this.verify(token);
    if (claims['channel'] !== undefined) throw new TokenError('invalid', 'connection token must not have a channel claim');
    return {
      user: stringClaim(claims, 'sub'),
      expireAt: expiry(claims),
      info: infoClaim(claims),
      channels: channelsClaim(claims),
    };
  }

  /** A subscription token: `sub` (the user), `channel`, optional `client`, expiry and `info`. */
  async verifySubscribe(token: string): Promise<SubscribeClaims> {
    const claims = await this.verify(token);
    const channel = stringClaim(claims, 'channel');
    if (channel === '') throw new TokenError('invalid', 'subscription token without a channel claim');
    const client = claims['client'];
    if (client !== undefined && typeof client !== 'string') throw new TokenError('invalid', 'claim client must be a string');
    return {
      user: stringClaim(claims, 'sub'),
      channel,
      client,
      expireAt: expiry(claims),
      info: infoClaim(claims),
    };
  }

  private async verify(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.getKey, this.options);
      return payload;
    } catch (cause) {
      if (cause instanceof TokenError) throw cause;
      if (cause instanceof errors.JWTExpired) throw new TokenError('expired', 'token expired', { cause });
      if (cause instanceof errors.JWTClaimValidationFailed && cause.claim === 'nbf') throw new TokenError('expired', 'token not yet valid', { cause });
      throw new TokenError('invalid', `invalid token: ${(cause as Error).message}`, { cause });
    }
  }
}

function stringClaim(claims: JWTPayload, name: string): string {
  const value = claims[name] ?? '';
  if (typeof value !== 'string') throw new TokenError('invalid', `claim ${name} must be a string`);
  return value;
}

/** `expire_at` (0 = never) wins over `exp`, as in Centrifugo. */
function expiry(claims: JWTPayload): number | undefined {
  const expireAt = claims['expire_at'];
  if (expireAt !== undefined) {
    if (typeof expireAt !== 'number' || !Number.isFinite(expireAt)) throw new TokenError('invalid', 'claim expire_at must be a number');
    return expireAt > 0 ? expireAt : undefined;
  }
  return claims.exp;
}

function infoClaim(claims: JWTPayload): JsonValue | undefined {
  const b64 = claims['b64info'];
  if (b64 === undefined) return claims['info'] as JsonValue | undefined;
  if (typeof b64 !== 'string') throw new TokenError('invalid', 'claim b64info must be a string');
  try {
    return JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as JsonValue;
  } catch (cause) {
    throw new TokenError('invalid', 'claim b64info must be base64 of JSON (the JSON protocol carries JSON info)', { cause });
  }
}

function channelsClaim(claims: JWTPayload): string[] {
  const channels = claims['channels'] ?? [];
  if (!Array.isArray(channels) || !channels.every((c): c is string => typeof c === 'string')) {
    throw new TokenError('invalid', 'claim channels must be an array of strings');
  }
  return channels;
}

export interface MintOptions {
  readonly user: string;
  /** Seconds until expiry; 0 for a token that never expires. */
  readonly ttlSeconds: number;
  readonly info?: JsonValue;
  /** Server-side subscriptions (connection tokens only). */
  readonly channels?: readonly string[];
  readonly algorithm?: 'HS256' | 'HS384' | 'HS512';
}

/** Mints an HMAC connection token as a backend would (used by `fleetgate token` and the demo). */
export async function mintConnectToken(secret: string, options: MintOptions): Promise<string> {
  const payload: JWTPayload = {};
  if (options.info !== undefined) payload['info'] = options.info;
  if (options.channels !== undefined) payload['channels'] = [...options.channels];
  return sign(secret, payload, options);
}

/** Mints an HMAC subscription token for `channel` (private channels). */
export async function mintSubscriptionToken(secret: string, channel: string, options: MintOptions): Promise<string> {
  const payload: JWTPayload = { channel };
  if (options.info !== undefined) payload['info'] = options.info;
  return sign(secret, payload, options);
}

function sign(secret: string, payload: JWTPayload, options: MintOptions): Promise<string> {
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: options.algorithm ?? 'HS256' }).setSubject(options.user).setIssuedAt();
  if (options.ttlSeconds > 0) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds);
  return jwt.sign(new TextEncoder().encode(secret));
}
