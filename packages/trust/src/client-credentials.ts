import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { assertDeviceId } from './device-id.js';
import { readFileIfExists, withFileLock, writeFileAtomic } from './secure-fs.js';
import { generateToken, hashToken, tokenMatchesHash } from './tokens.js';

export interface ClientRecord {
  clientId: string;
  deviceId: string;
  secretHash: string;
  createdAt: string;
  revokedAt?: string;
}

interface ClientFile {
  version: 1;
  /** HMAC key for access tokens (base64). The file is 0600. */
  tokenKey: string;
  clients: ClientRecord[];
}

/** OAuth2 token response (RFC 6749 section 5.1), as Margo shows it. */
export interface AccessTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface VerifiedAccessToken {
  clientId: string;
  deviceId: string;
  expiresAt: Date;
}

/** Location of the client store inside the data folder. */
export function clientCredentialsPath(dataDir: string): string {
  return join(dataDir, 'state', 'oauth-clients.json');
}

const ACCESS_PREFIX = 'mga_';

/**
 * OAuth2 client credentials of enrolled devices (`<data>/state/oauth-clients.json`, 0600, secret
 * hashes only) and the access tokens of the client-credentials grant. Access tokens are
 * self-contained (`mga_<payload>.<HMAC-SHA256>`), valid `expires_in` seconds and die at once when
 * their client is revoked.
 *
 * @example
 * const clients = new ClientCredentialStore(dataDir);
 * const { clientId, clientSecret } = await clients.issue('press-7');
 * const t = await clients.issueAccessToken(clientId, clientSecret);
 * const who = await clients.verifyAccessToken(t.access_token); // { clientId, deviceId, expiresAt }
 */
export class ClientCredentialStore {
  readonly path: string;
  private readonly now: () => Date;

  constructor(dataDir: string, opts: { now?: () => Date } = {}) {
    this.path = clientCredentialsPath(dataDir);
    this.now = opts.now ?? (() => new Date());
  }

  private async read(): Promise<ClientFile | undefined> {
    const b = await readFileIfExists(this.path);
    if (!b) return undefined;
    try {
      const f = JSON.parse(b.toString('utf8')) as ClientFile;
      if (!Array.isArray(f.clients) || typeof f.tokenKey !== 'string') throw new Error('bad shape');
      return f;
    } catch (e) {
      throw new MargoError('IO_ERROR', `${this.path} is not a valid client store`, {
        cause: e,
        retry: 'never',
      });
    }
  }

  private async update<T>(fn: (f: ClientFile) => T): Promise<T> {
    return withFileLock(this.path, async () => {
      const f = (await this.read()) ?? {
        version: 1,
        tokenKey: randomBytes(32).toString('base64'),
        clients: [],
      };
      const r = fn(f);
      await writeFileAtomic(this.path, JSON.stringify(f, null, 2) + '\n', 0o600);
      return r;
    });
  }

  /** Creates a client for a device. The secret is returned once and stored hashed. */
  async issue(
    deviceId: string,
    opts: { clientId?: string } = {},
  ): Promise<{ clientId: string; clientSecret: string }> {
    assertDeviceId(deviceId);
    const clientId = opts.clientId ?? randomUUID();
    const clientSecret = generateToken('mgc');
    await this.update((f) => {
      if (f.clients.some((c) => c.clientId === clientId))
        throw new MargoError('USAGE_ERROR', `client ${clientId} exists`);
      f.clients.push({
        clientId,
        deviceId,
        secretHash: hashToken(clientSecret),
        createdAt: this.now().toISOString(),
      });
    });
    return { clientId, clientSecret };
  }

  /** Replaces a client's secret (rotation). The old one stops working at once. */
  async rotateSecret(clientId: string): Promise<string> {
    const clientSecret = generateToken('mgc');
    await this.update((f) => {
      const c = f.clients.find((x) => x.clientId === clientId && !x.revokedAt);
      if (!c) throw new MargoError('TRUST_OAUTH_INVALID_CLIENT', `client ${clientId} is unknown or revoked`);
      c.secretHash = hashToken(clientSecret);
    });
    return clientSecret;
  }

  /** Revokes every client of a device; their access tokens die at once. Returns how many. */
  async revokeDevice(deviceId: string): Promise<number> {
    return this.update((f) => {
      let n = 0;
      for (const c of f.clients) {
        if (c.deviceId === deviceId && !c.revokedAt) {
          c.revokedAt = this.now().toISOString();
          n++;
        }
      }
      return n;
    });
  }

  /** Removes a client completely (undo of a failed enrolment). */
  async remove(clientId: string): Promise<void> {
    await this.update((f) => {
      f.clients = f.clients.filter((c) => c.clientId !== clientId);
    });
  }

  /** Checks a client id + secret; throws TRUST_OAUTH_INVALID_CLIENT. */
  async authenticate(clientId: string, clientSecret: string): Promise<ClientRecord> {
    const f = await this.read();
    const c = f?.clients.find((x) => x.clientId === clientId);
    if (
      !c ||
      c.revokedAt ||
      typeof clientSecret !== 'string' ||
      !tokenMatchesHash(clientSecret, c.secretHash)
    ) {
      throw new MargoError('TRUST_OAUTH_INVALID_CLIENT', 'unknown client or wrong client secret');
    }
    return { ...c };
  }

  /** Client-credentials grant: an access token for a valid client id + secret. */
  async issueAccessToken(
    clientId: string,
    clientSecret: string,
    opts: { ttlSeconds?: number } = {},
  ): Promise<AccessTokenResponse> {
    const c = await this.authenticate(clientId, clientSecret);
    const f = (await this.read())!;
    const ttl = opts.ttlSeconds ?? 3600;
    const exp = Math.floor(this.now().getTime() / 1000) + ttl;
    const payload = Buffer.from(
      JSON.stringify({ c: c.clientId, e: exp, n: randomBytes(8).toString('base64url') }),
      'utf8',
    ).toString('base64url');
    const mac = createHmac('sha256', Buffer.from(f.tokenKey, 'base64')).update(payload).digest('base64url');
    return { access_token: `${ACCESS_PREFIX}${payload}.${mac}`, token_type: 'Bearer', expires_in: ttl };
  }

  /** Checks an access token (MAC, expiry, client not revoked); throws TRUST_ACCESS_TOKEN_INVALID. */
  async verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    const bad = (why: string) => new MargoError('TRUST_ACCESS_TOKEN_INVALID', `the access token is ${why}`);
    if (typeof token !== 'string' || !token.startsWith(ACCESS_PREFIX)) throw bad('malformed');
    const [payload, mac] = token.slice(ACCESS_PREFIX.length).split('.');
    if (!payload || !mac) throw bad('malformed');
    const f = await this.read();
    if (!f) throw bad('unknown');
    const want = createHmac('sha256', Buffer.from(f.tokenKey, 'base64')).update(payload).digest();
    const got = Buffer.from(mac, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw bad('forged');
    let claims: { c?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { c?: unknown; e?: unknown };
    } catch {
      throw bad('malformed');
    }
    if (typeof claims.c !== 'string' || typeof claims.e !== 'number') throw bad('malformed');
    if (this.now().getTime() / 1000 >= claims.e) throw bad('expired');
    const c = f.clients.find((x) => x.clientId === claims.c);
    if (!c || c.revokedAt) throw bad('of a revoked client');
    return { clientId: c.clientId, deviceId: c.deviceId, expiresAt: new Date(claims.e * 1000) };
  }

  /** All client records (hashes only). */
  async list(): Promise<ClientRecord[]> {
    return ((await this.read())?.clients ?? []).map((c) => ({ ...c }));
  }
}
