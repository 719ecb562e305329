/**
 * What the API serves per device, derived from its desired-state commits and kept in memory:
 * the manifest of the current head (one ref read per poll when nothing changed), and every
 * deployment document and bundle digest of the recent history, so that a client mid-update gets
 * exactly what an older manifest promised. Content-addressed, so nothing here can go stale: a
 * digest names its bytes for ever.
 */
import { MargoError } from '@margo-gitops/spec';
import type { DeviceStateReader } from './reader.js';
import {
  buildStateManifest,
  bundleOf,
  deploymentDocs,
  sha256 as sha,
  type StateManifest,
} from './state-manifest.js';

/** Retry-After of the 503 a device gets before its first desired state. */
export const NO_STATE_RETRY_SECONDS = 10;

interface DeviceEntry {
  current?: StateManifest;
  /** Commits whose documents are indexed. */
  scanned: Set<string>;
  /** digest -> [deploymentId, bytes]. */
  docs: Map<string, { deploymentId: string; bytes: Buffer }>;
  /** bundle digest -> commit it was derived from (re-derived on request: deterministic). */
  bundles: Map<string, string>;
  /** Head whose whole history window is indexed: an unknown digest then costs no Git read. */
  fullyScannedAt?: string;
}

export interface ApiStateCacheOptions {
  /** How many first-parent commits back a digest is looked for (default 200). */
  historyLimit?: number;
}

export class ApiStateCache {
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly historyLimit: number;

  constructor(
    private readonly reader: DeviceStateReader,
    opts: ApiStateCacheOptions = {},
  ) {
    this.historyLimit = opts.historyLimit ?? 200;
  }

  private entry(deviceId: string): DeviceEntry {
    let e = this.devices.get(deviceId);
    if (!e) {
      e = { scanned: new Set(), docs: new Map(), bundles: new Map() };
      this.devices.set(deviceId, e);
    }
    return e;
  }

  /**
   * The current manifest; throws API_UNAVAILABLE (503) when the device has no desired state yet:
   * manifestVersion starts at 1 with the first state the orchestrator signs, and answering
   * anything before that would have to invent a version.
   */
  async manifest(deviceId: string): Promise<StateManifest> {
    const head = await this.reader.head(deviceId);
    if (!head)
      // The first state follows the device's capabilities within a pass: a short Retry-After, so
      // a conformant client that honours it is not kept waiting long after it is there.
      throw new MargoError('API_UNAVAILABLE', 'no desired state has been written for this device yet', {
        retry: 'later',
        data: { deviceId, retryAfterSeconds: NO_STATE_RETRY_SECONDS },
      });
    const e = this.entry(deviceId);
    if (e.current?.commit === head) return e.current;
    const files = await this.reader.files(deviceId, head);
    const vouched = await this.reader.vouch(deviceId, head, files);
    const m = buildStateManifest({ commit: head, files, ...vouched });
    this.index(e, m);
    e.current = m;
    return m;
  }

  private index(e: DeviceEntry, m: StateManifest): void {
    e.scanned.add(m.commit);
    for (const d of m.docs) e.docs.set(d.digest, { deploymentId: d.deploymentId, bytes: d.bytes });
    if (m.bundle) e.bundles.set(m.bundle.digest, m.commit);
  }

  /** Indexes the history of the head until `found` says stop. */
  private async scanHistory(deviceId: string, e: DeviceEntry, found: () => boolean): Promise<void> {
    const head = e.current?.commit ?? (await this.reader.head(deviceId));
    if (!head || e.fullyScannedAt === head) return;
    for (const commit of await this.reader.ancestors(deviceId, head, this.historyLimit)) {
      if (e.scanned.has(commit)) continue;
      const docs = deploymentDocs(await this.reader.files(deviceId, commit));
      for (const d of docs) e.docs.set(d.digest, { deploymentId: d.deploymentId, bytes: d.bytes });
      const tgz = bundleOf(docs);
      if (tgz) e.bundles.set(sha(tgz), commit);
      e.scanned.add(commit);
      if (found()) return;
    }
    e.fullyScannedAt = head;
  }

  /** The exact bytes of a deployment document by id and digest, current or from history. */
  async deployment(deviceId: string, deploymentId: string, digest: string): Promise<Buffer | undefined> {
    const e = this.entry(deviceId);
    const hit = () => e.docs.get(digest)?.deploymentId === deploymentId;
    if (!hit()) await this.scanHistory(deviceId, e, hit);
    return hit() ? e.docs.get(digest)!.bytes : undefined;
  }

  /** A bundle archive by digest, current or re-derived from the commit of history it came from. */
  async bundle(deviceId: string, digest: string): Promise<Buffer | undefined> {
    const e = this.entry(deviceId);
    if (e.current?.bundle?.digest === digest) return e.current.bundle.bytes;
    if (!e.bundles.has(digest)) await this.scanHistory(deviceId, e, () => e.bundles.has(digest));
    const commit = e.bundles.get(digest);
    if (!commit) return undefined;
    const tgz = bundleOf(deploymentDocs(await this.reader.files(deviceId, commit)));
    return tgz && sha(tgz) === digest ? tgz : undefined;
  }
}
