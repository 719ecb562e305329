import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MargoError, isMargoError, toMargoError } from '@margo-gitops/spec';
import { writeFileAtomic } from '../state/atomic-write.js';
import type { DesiredSnapshot, DesiredSource, SourcePoll, Verifier } from './desired-source.js';
import { readBundle } from './rest-bundle.js';
import { problemCode, retryAfterSeconds, type RestClient, type RestReply } from './rest-client.js';
import {
  DEPLOYMENTS_PATH,
  MANIFEST_MEDIA_TYPE,
  checkNotReplayed,
  layoutDesiredFiles,
  parseStateManifest,
  readManifestVersion,
  sha256,
  versionToken,
  type StateManifest,
  type VersionFloor,
} from './rest-manifest.js';

export interface RestDesiredSourceOptions {
  client: RestClient;
  /** The agent's state folder: `rest-source.json` (position and last applied documents) lives there. */
  stateDir: string;
  deviceId: string;
  verifier?: Verifier;
}

/** `<stateDir>/rest-source.json`, written atomically by `settled()` only. */
export const REST_STATE_FILE = 'rest-source.json';

/** What `settled()` persists: the poll position, and the last applied state (floor + offline copy). */
interface RestState {
  v: 1;
  /** ETag sent as If-None-Match (the last version acted on, applied or refused). */
  etag?: string;
  /** Its version token. */
  token?: string;
  /** The last applied (verified) state: the replay floor and what `lastKnown()` loads offline. */
  applied?: VersionFloor & { token: string; files: Record<string, string> };
}

/** A 200 manifest as polled: exact body, its ETag and token. */
interface Polled {
  token: string;
  etag: string;
  body: Buffer;
}

const ACCEPT = `${MANIFEST_MEDIA_TYPE}, application/problem+json;q=0.5`;

/**
 * A non-2xx answer as a MargoError: 5xx/408/429 transient (with the server's Retry-After in
 * `data.retryAfterSeconds`), other 4xx a refusal (problem code kept).
 */
export function replyError(what: string, r: RestReply): MargoError {
  const code = problemCode(r);
  const transient = r.status >= 500 || r.status === 408 || r.status === 429;
  const wait = transient ? retryAfterSeconds(r) : undefined;
  return new MargoError(
    transient ? 'AGENT_API_UNREACHABLE' : 'AGENT_API_REFUSED',
    `${what} answered ${r.status}${code ? ` (${code})` : ''}`,
    {
      data: {
        status: r.status,
        ...(code ? { problem: code } : {}),
        ...(wait !== undefined ? { retryAfterSeconds: wait } : {}),
      },
      ...(transient ? { retry: 'backoff' } : {}),
    },
  );
}

/**
 * Desired state over the Workload Management API (rc.2 client loop): `poll` asks for the manifest
 * with the stored ETag (304: nothing new), `load` fetches the bundle (else each document) by
 * digest and checks every sha256 over the exact bytes, `verify` refuses a replayed or lower
 * manifestVersion, a digest mismatch, and whatever the signed-manifest verifier refuses (the
 * signed manifest rides in `x-margo-gitops-extensions`), and `settled` persists ETag and version
 * only once the agent acted. A 404 on a document is a transport error, never a deletion.
 */
export class RestDesiredSource implements DesiredSource {
  private state: RestState = { v: 1 };
  private polled: Polled | undefined;
  /** The snapshot that verified last (persisted as `applied` by `settled`). */
  private verified:
    | { token: string; manifestVersion: string; etag: string; files: Map<string, Buffer> }
    | undefined;

  constructor(private readonly o: RestDesiredSourceOptions) {}

  private get file(): string {
    return join(this.o.stateDir, REST_STATE_FILE);
  }

  init(): Promise<void> {
    try {
      const s = JSON.parse(readFileSync(this.file, 'utf8')) as RestState;
      if (s && s.v === 1) this.state = s;
    } catch {
      // first start over REST (or a damaged file: the trust verifier's own floor still holds)
    }
    return Promise.resolve();
  }

  async poll(): Promise<SourcePoll> {
    const etag = this.polled?.etag ?? this.state.etag;
    const r = await this.o.client.send('GET', DEPLOYMENTS_PATH, {
      headers: { accept: ACCEPT, ...(etag ? { 'if-none-match': etag } : {}) },
    });
    if (r.status === 304) {
      const polled = this.polled;
      const token =
        polled && polled.etag === etag
          ? polled.token
          : this.state.etag === etag
            ? this.state.token
            : undefined;
      if (token) return { version: token, changed: false };
      if (!etag)
        throw new MargoError('AGENT_API_ANSWER_INVALID', `GET ${DEPLOYMENTS_PATH} answered 304 to no ETag`);
      // A 304 for an ETag we hold no version for cannot happen with our server; ask again in full.
      this.polled = undefined;
      const { etag: _dropped, token: _t, ...rest } = this.state;
      this.state = rest;
      return this.poll();
    }
    // 503: the server has no state it can vouch for (none written for this device yet, or its
    // repository does not verify): nothing to act on, which is not an outage either. The agent
    // keeps what runs and goes on reporting, capabilities first (the orchestrator waits for them
    // before it writes a device's first desired state).
    if (r.status === 503) return { version: null, changed: false };
    if (r.status !== 200) throw replyError(`GET ${DEPLOYMENTS_PATH}`, r);
    const got = this.polledFrom(r);
    const changed = got.token !== this.polled?.token;
    this.polled = got;
    return { version: got.token, changed };
  }

  private polledFrom(r: RestReply): Polled {
    const header = r.headers.etag;
    // Our server's ETag is the body's digest; without one, the digest names the body just as well.
    const etag = typeof header === 'string' && header ? header : `"${sha256(r.body)}"`;
    let mv: string | undefined;
    try {
      mv = readManifestVersion(r.body.toString('utf8'));
    } catch {
      mv = undefined; // refused at verify, once
    }
    return { token: versionToken(mv, etag), etag, body: r.body };
  }

  lastKnown(): Promise<string | null> {
    return Promise.resolve(this.state.applied?.token ?? null);
  }

  async load(version: string): Promise<DesiredSnapshot> {
    const applied = this.state.applied;
    if (applied && applied.token === version && this.polled?.token !== version) {
      // The last applied state, from the copy in the state folder (offline restart).
      const files = new Map(Object.entries(applied.files).map(([p, b]) => [p, Buffer.from(b, 'base64')]));
      return this.snapshot(version, applied.manifestVersion, applied.etag, () => files);
    }
    let polled = this.polled?.token === version ? this.polled : undefined;
    if (!polled) {
      // Acted on before a restart (a 304 since) and not the applied copy: fetch it in full again.
      const r = await this.o.client.send('GET', DEPLOYMENTS_PATH, { headers: { accept: ACCEPT } });
      if (r.status !== 200) throw replyError(`GET ${DEPLOYMENTS_PATH}`, r);
      polled = this.polledFrom(r);
      if (polled.token !== version)
        throw new MargoError('AGENT_API_UNREACHABLE', 'the state manifest changed while loading; next poll', {
          retry: 'backoff',
        });
      this.polled = polled;
    }
    let manifest: StateManifest;
    try {
      manifest = parseStateManifest(polled.body);
    } catch (e) {
      return this.refused(version, e);
    }
    let docs: Map<string, Buffer>;
    try {
      docs = await this.fetchDocuments(manifest);
    } catch (e) {
      // Transport errors go back to the agent (retried next poll); what the bytes say is a refusal.
      if (isMargoError(e) && (e.code === 'AGENT_API_UNREACHABLE' || e.code === 'AGENT_API_REFUSED')) throw e;
      return this.refused(version, e);
    }
    return this.snapshot(version, manifest.manifestVersion, polled.etag, () =>
      layoutDesiredFiles(manifest, docs),
    );
  }

  /**
   * Document bytes by deploymentId, each checked against the manifest's digest: the bundle when
   * the manifest has one (one request), else each document. Throws AGENT_DIGEST_MISMATCH.
   */
  private async fetchDocuments(m: StateManifest): Promise<Map<string, Buffer>> {
    const docs = new Map<string, Buffer>();
    if (m.bundle) {
      const tgz = await this.fetchByDigest(m.bundle.url, m.bundle.digest, 'the bundle');
      const entries = readBundle(tgz);
      for (const d of m.deployments) {
        const bytes = entries.get(d.deploymentId);
        if (!bytes)
          throw new MargoError(
            'AGENT_API_ANSWER_INVALID',
            `the bundle holds no document for ${d.deploymentId}`,
          );
        docs.set(d.deploymentId, checkDigest(bytes, d.digest, `document ${d.deploymentId} in the bundle`));
      }
      return docs;
    }
    for (const d of m.deployments)
      docs.set(d.deploymentId, await this.fetchByDigest(d.url, d.digest, `document ${d.deploymentId}`));
    return docs;
  }

  private async fetchByDigest(url: string, digest: string, what: string): Promise<Buffer> {
    const r = await this.o.client.send('GET', url);
    // 404 included: an unknown digest is the server's trouble (or a race), never "deleted".
    if (r.status !== 200) throw replyError(`GET ${url}`, r);
    return checkDigest(r.body, digest, what);
  }

  /** A snapshot whose refusal is already known: `verify` throws it. */
  private refused(version: string, e: unknown): DesiredSnapshot {
    const err = toMargoError(e, 'AGENT_API_ANSWER_INVALID');
    return {
      version,
      files: new Map(),
      verify: () => Promise.reject(err),
    };
  }

  private snapshot(
    version: string,
    manifestVersion: string,
    etag: string,
    layout: () => Map<string, Buffer>,
  ): DesiredSnapshot {
    let files: Map<string, Buffer>;
    let layoutError: unknown;
    try {
      files = layout();
    } catch (e) {
      files = new Map();
      layoutError = e;
    }
    return {
      version,
      files,
      verify: async () => {
        if (layoutError) throw toMargoError(layoutError, 'AGENT_API_ANSWER_INVALID');
        checkNotReplayed(manifestVersion, etag, this.state.applied);
        let accepted;
        try {
          accepted = this.o.verifier
            ? ((await this.o.verifier(files, { deviceId: this.o.deviceId, commit: version })) ?? undefined)
            : undefined;
        } catch (e) {
          throw toMargoError(e, 'AGENT_VERIFICATION_FAILED');
        }
        this.verified = { token: version, manifestVersion, etag, files };
        return { ...accepted, manifestVersion };
      },
    };
  }

  /**
   * The agent acted on `version`: persist its ETag (the next poll asks If-None-Match with it) and,
   * when it was verified, it as the new floor and offline copy, in one atomic write.
   */
  settled(version: string): Promise<void> {
    const etag =
      this.polled?.token === version
        ? this.polled.etag
        : this.state.applied?.token === version
          ? this.state.applied.etag
          : undefined;
    const next: RestState = { ...this.state, v: 1, ...(etag ? { etag, token: version } : {}) };
    const v = this.verified?.token === version ? this.verified : undefined;
    if (v) {
      next.applied = {
        token: v.token,
        manifestVersion: v.manifestVersion,
        etag: v.etag,
        files: Object.fromEntries([...v.files].map(([p, b]) => [p, b.toString('base64')])),
      };
    }
    writeFileAtomic(this.file, JSON.stringify(next), 0o600);
    this.state = next;
    this.verified = undefined;
    return Promise.resolve();
  }
}

/** The bytes when their sha256 is `digest`; else AGENT_DIGEST_MISMATCH (nothing of them is used). */
export function checkDigest(bytes: Buffer, digest: string, what: string): Buffer {
  const got = sha256(bytes);
  if (got === digest) return bytes;
  throw new MargoError('AGENT_DIGEST_MISMATCH', `${what}: sha256 ${got} is not the manifest's ${digest}`, {
    data: { expected: digest, got },
  });
}
