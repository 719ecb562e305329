import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CAPABILITIES_FILE, HOLD_FILE, parseDeviceHold, stringifyJsonExact } from '@margo-gitops/spec';
import { errInfo } from '../logger.js';
import { writeFileAtomic } from '../state/atomic-write.js';
import { applyToView, coalesced, queueChanges } from '../status/queued-view.js';
import { StatusOutbox } from '../status/status-outbox.js';
import type { StatusSink } from './desired-source.js';
import type { RestClient } from './rest-client.js';
import { replyError } from './rest-source.js';

export interface RestStatusSinkOptions {
  client: RestClient;
  stateDir: string;
  deviceId: string;
  logger: Logger;
}

/** What the server has (delivered contents by path), in the state folder. */
export const REST_DELIVERED_FILE = 'rest-status.json';
const DEPLOYMENT_FILE = /^deployments\/([A-Za-z0-9._~-]{1,253})\.json$/;

/**
 * The request that delivers one status file, or null for files the API has no place for
 * (observed.json and signatures.json are Git's: the server signs what it writes as a witness).
 * A deleted deployment file is sent as a `removed` status built from what was reported last.
 */
export function statusRequest(
  deviceId: string,
  path: string,
  content: string | null,
  previous: string | undefined,
): { method: string; path: string; body?: string } | null {
  if (path === CAPABILITIES_FILE)
    return content === null
      ? { method: 'DELETE', path: `/api/v1/capabilities/${deviceId}` }
      : { method: 'PUT', path: `/api/v1/capabilities/${deviceId}`, body: content };
  const m = DEPLOYMENT_FILE.exec(path);
  if (!m) return null;
  const url = `/api/v1/deployments/${m[1]}/status`;
  if (content !== null) return { method: 'POST', path: url, body: content };
  if (previous === undefined) return null;
  try {
    const doc = JSON.parse(previous) as {
      adoptedManifestVersion?: unknown;
      status?: { state?: string; error?: unknown };
      components?: { state?: string; error?: unknown }[];
    };
    // The version may exceed 2^53 (JSON.parse rounds it): carried over digit for digit.
    const exact = /"adoptedManifestVersion":\s*(\d+)/.exec(previous)?.[1];
    if (exact) doc.adoptedManifestVersion = BigInt(exact);
    doc.status = { state: 'removed' };
    doc.components = (doc.components ?? []).map(({ error: _e, ...c }) => ({ ...c, state: 'removed' }));
    return { method: 'POST', path: url, body: stringifyJsonExact(doc, 2) + '\n' };
  } catch {
    return null;
  }
}

const ADOPTED = /"adoptedManifestVersion":\s*(\d+)/;

/**
 * The capabilities document as sent over the API: with the on-site hold (the `hold.json` a Git
 * device pushes) as member `hold` of its `x-margo-gitops-extensions` object, which rc.2's
 * DeviceCapabilitiesManifest allows; without `hold` when the device is not held.
 */
export function capabilitiesWithHold(capabilities: string, hold: string | undefined): string {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(capabilities) as Record<string, unknown>;
  } catch {
    return capabilities;
  }
  const key = 'x-margo-gitops-extensions';
  const ext = { ...((doc[key] as Record<string, unknown> | undefined) ?? {}) };
  if (hold === undefined && !('hold' in ext)) return capabilities; // the bytes as the agent made them
  delete ext.hold;
  if (hold !== undefined) {
    try {
      ext.hold = parseDeviceHold(hold);
    } catch {
      // not a hold document: not sent
    }
  }
  if (Object.keys(ext).length) doc[key] = ext;
  else delete doc[key];
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * The status file to re-post so the server sees manifest version `mv` adopted, or null when a
 * deployment status already carries it (or a later one) or there is none to carry it: the first
 * deployment status (by path) with its `adoptedManifestVersion` replaced, digit for digit.
 */
export function acknowledgement(
  view: ReadonlyMap<string, string>,
  mv: bigint,
): Record<string, string> | null {
  const deployments = [...view.keys()].filter((p) => DEPLOYMENT_FILE.test(p)).sort();
  const versions = deployments.map((p) => ADOPTED.exec(view.get(p)!)?.[1]);
  if (!deployments.length || versions.some((v) => v !== undefined && BigInt(v) >= mv)) return null;
  const i = versions.findIndex((v) => v !== undefined);
  if (i < 0) return null;
  const path = deployments[i]!;
  return { [path]: view.get(path)!.replace(ADOPTED, `"adoptedManifestVersion": ${mv}`) };
}

/**
 * The StatusSink over the Workload Management API, from the same durable outbox as Git
 * (`<stateDir>/outbox`), so the offline journal and crash safety do not depend on the transport:
 * `report()` queues on disk, `flush()` sends the latest content of each changed file (deployment
 * status -> `POST /api/v1/deployments/{id}/status`, capabilities -> `PUT /api/v1/capabilities/{id}`)
 * and drops the queue once everything got an answer. A server error, 408/429, or no answer keeps
 * everything queued for the next flush (contents are absolute, so sending one twice is harmless);
 * any other 4xx is a permanent refusal: logged with its problem code and dropped, never looped on.
 */
export class RestStatusSink implements StatusSink {
  private readonly outbox: StatusOutbox;
  /** Delivered contents (what the server has), persisted. */
  private delivered = new Map<string, string>();
  /** What the server will have once the outbox is delivered. */
  private view = new Map<string, string>();
  private observed: string | undefined;

  constructor(private readonly o: RestStatusSinkOptions) {
    this.outbox = new StatusOutbox(join(o.stateDir, 'outbox'));
  }

  init(): Promise<void> {
    try {
      const d = JSON.parse(readFileSync(join(this.o.stateDir, REST_DELIVERED_FILE), 'utf8')) as Record<
        string,
        string
      >;
      for (const [p, c] of Object.entries(d)) if (typeof c === 'string') this.delivered.set(p, c);
    } catch {
      // nothing delivered over REST yet
    }
    this.view = new Map(this.delivered);
    for (const e of this.outbox.list()) applyToView(this.view, e.files);
    return Promise.resolve();
  }

  paths(): string[] {
    return [...this.view.keys()];
  }

  get(path: string): string | undefined {
    return this.view.get(path);
  }

  /**
   * The API has no observed.json: the server learns which desired state a device acted on from
   * the `adoptedManifestVersion` of its status posts. A new version that changes no deployment
   * (a re-signed manifest, a change for another device's group) would leave every status as it was,
   * and the fleet view would show the device behind for ever; so when nothing queued carries the
   * observed version, the next flush re-posts one deployment's status with it (`acknowledgement`).
   */
  observe(version: string): boolean {
    if (this.observed === version) return false;
    this.observed = version;
    return true;
  }

  /** The status to re-post so the observed version is acknowledged, or null (nothing to do). */
  private pendingAcknowledgement(): Record<string, string> | null {
    const mv = /^(\d+):/.exec(this.observed ?? '')?.[1];
    return mv ? acknowledgement(this.view, BigInt(mv)) : null;
  }

  /** Queues the acknowledgement of the observed version when no deployment status carries it. */
  private acknowledge(): void {
    const ack = this.pendingAcknowledgement();
    if (ack) queueChanges(this.view, this.outbox, ack, 'acknowledge the observed manifest version');
  }

  report(files: Record<string, string | null>, message: string): boolean {
    return queueChanges(this.view, this.outbox, files, message);
  }

  pendingChanges(): number {
    return this.outbox.size;
  }

  hasUnpushed(): boolean {
    return this.outbox.size > 0 || this.pendingAcknowledgement() !== null;
  }

  /** Delivers the queue; concurrent calls coalesce. */
  readonly flush = coalesced(() => this.flushOnce());

  private saveDelivered(): void {
    writeFileAtomic(
      join(this.o.stateDir, REST_DELIVERED_FILE),
      JSON.stringify(Object.fromEntries(this.delivered)),
      0o600,
    );
  }

  private async flushOnce(): Promise<boolean> {
    this.acknowledge();
    const entries = this.outbox.list();
    if (!entries.length) return true;
    // The latest content of each file: intermediate progress is not worth a request of its own.
    const latest = new Map<string, string | null>();
    for (const e of entries) for (const [p, c] of Object.entries(e.files)) latest.set(p, c);
    // The hold travels in the capabilities document: a changed hold re-sends it. hold.json itself
    // goes last, so it counts as delivered only after the capabilities that carry it.
    const holdChanged =
      latest.has(HOLD_FILE) && (latest.get(HOLD_FILE) ?? undefined) !== this.delivered.get(HOLD_FILE);
    if (latest.has(HOLD_FILE)) {
      const hold = latest.get(HOLD_FILE)!;
      latest.delete(HOLD_FILE);
      const caps = this.view.get(CAPABILITIES_FILE);
      if (holdChanged && caps !== undefined && !latest.has(CAPABILITIES_FILE))
        latest.set(CAPABILITIES_FILE, caps);
      latest.set(HOLD_FILE, hold);
    }
    let sent = 0;
    for (const [path, content] of latest) {
      const previous = this.delivered.get(path);
      const resend = path === CAPABILITIES_FILE && holdChanged;
      if (!resend && (content === null ? previous === undefined : previous === content)) continue;
      const body =
        path === CAPABILITIES_FILE && content !== null
          ? capabilitiesWithHold(content, this.view.get(HOLD_FILE))
          : content;
      const req = statusRequest(this.o.deviceId, path, body, previous);
      if (req) {
        const r = await this.o.client.send(req.method, req.path, {
          headers: {
            accept: 'application/json, application/problem+json',
            ...(req.body ? { 'content-type': 'application/json' } : {}),
          },
          ...(req.body ? { body: Buffer.from(req.body, 'utf8') } : {}),
        });
        if (r.status < 200 || r.status >= 300) {
          const err = replyError(`${req.method} ${req.path}`, r);
          // Transient: nothing is dropped; the whole queue goes again on the next flush.
          if (err.code !== 'AGENT_API_REFUSED') throw err;
          this.o.logger.error(
            { err: errInfo(err), path },
            'status change refused by the API; dropped (it would be refused again)',
          );
        } else sent++;
      }
      // Delivered (or refused for good, or Git-only): the server's view is what we sent.
      if (content === null) this.delivered.delete(path);
      else this.delivered.set(path, content);
      this.saveDelivered();
    }
    for (const e of entries) this.outbox.ack(e.seq);
    this.o.logger.debug({ changes: entries.length, requests: sent }, 'status delivered');
    return true;
  }
}
