import type { FleetStatus, OrchestratorTelemetry, RolloutView } from '@margo-gitops/orchestrator';
import { noTelemetry } from '@margo-gitops/orchestrator';
import {
  changedKeys,
  deviceItems,
  fingerprints,
  overview,
  type DeviceListItem,
  type Fingerprints,
  type Overview,
} from './views.js';

/** What the console reads the fleet from (the orchestrator in `margo serve`). */
export interface ConsoleSource {
  getFleetStatus(): Promise<FleetStatus>;
  rolloutViews?(): Promise<RolloutView[]>;
}

/** One roll-up and everything derived from it, shared by every reader until the next change. */
export interface Snapshot {
  at: number;
  status: FleetStatus;
  rollouts: RolloutView[];
  overview: Overview;
  /** Sorted problems first, then id. */
  devices: DeviceListItem[];
  deviceIndex: Map<string, number>;
  prints: Fingerprints;
}

export interface FleetEvent {
  generatedAt: string;
  fleetCommit: string | null;
  devices: string[];
  deployments: string[];
}

export interface SnapshotOptions {
  /**
   * A snapshot older than this (or three times its computation, if longer) is recomputed in the
   * background on the next read (freshness moves with time).
   */
  maxAgeMs?: number;
  /** Wait this long after a change before recomputing (changes in between are folded in). */
  debounceMs?: number;
  /**
   * A reader arriving while a newer roll-up is being computed waits this long for it, then gets
   * the previous one (a big fleet's page answers at once; the event stream tells it to refetch).
   */
  waitForFreshMs?: number;
  /** While someone listens, recompute this often even without a change (devices turn stale). */
  tickMs?: number;
  now?: () => number;
  onError?: (e: unknown) => void;
  /** The fleet repository's head now (cheap): a snapshot of another fleet commit is out of date. */
  fleetHead?: () => Promise<string | null>;
}

/**
 * The console's roll-up, computed once per change and shared: readers get the current snapshot
 * (recomputed when something changed or it is older than maxAgeMs; one computation at a time, all
 * waiting readers share it). `telemetry.fleetChanged` marks it changed and, debounced, recomputes
 * it and tells listeners which devices and deployments look different (nothing when nothing does).
 * Under a stream of changes (10,000 devices polling) the wait grows to twice the last computation,
 * so recomputing never takes more than about a third of a core.
 */
export class ConsoleSnapshots {
  private current?: Snapshot;
  private computing?: Promise<Snapshot>;
  private dirty = true;
  private debounce?: NodeJS.Timeout;
  private ticker?: NodeJS.Timeout;
  private readonly listeners = new Set<(e: FleetEvent) => void>();
  private readonly opts: Required<Omit<SnapshotOptions, 'onError' | 'fleetHead'>> &
    Pick<SnapshotOptions, 'onError' | 'fleetHead'>;
  private closed = false;
  /** How long the last computation took: the next one waits at least twice that (CPU ≤ 1/3). */
  private lastComputeMs = 0;
  /** The fleet head the last read saw. */
  private lastHead?: string | null;
  /** Telemetry feeding this: only fleetChanged is of interest. */
  readonly telemetry: OrchestratorTelemetry;

  constructor(
    private readonly source: () => ConsoleSource,
    opts: SnapshotOptions = {},
  ) {
    this.opts = {
      maxAgeMs: opts.maxAgeMs ?? 5000,
      debounceMs: opts.debounceMs ?? 250,
      waitForFreshMs: opts.waitForFreshMs ?? 300,
      tickMs: opts.tickMs ?? 15_000,
      now: opts.now ?? Date.now,
      ...(opts.onError ? { onError: opts.onError } : {}),
      ...(opts.fleetHead ? { fleetHead: opts.fleetHead } : {}),
    };
    this.telemetry = { ...noTelemetry, fleetChanged: () => this.changed() };
  }

  /** The current snapshot (computed now if there is none, something changed, or it is too old). */
  async get(): Promise<Snapshot> {
    const c = this.current;
    if (c) {
      // A fleet head not seen before (a push the orchestrator may not have reported yet) is a change.
      const head = await this.opts.fleetHead?.().catch(() => undefined);
      if (head !== undefined && head !== this.lastHead) {
        this.lastHead = head;
        if (head !== c.status.fleetCommit) this.dirty = true;
      }
      if (!this.dirty) {
        // Only time moved (devices may have turned stale): refresh in the background, answer now.
        const maxAge = Math.max(this.opts.maxAgeMs, 3 * this.lastComputeMs);
        if (this.opts.now() - c.at > maxAge && !this.computing)
          void this.compute().catch((e: unknown) => this.opts.onError?.(e));
        return c;
      }
    }
    const fresh = this.compute();
    if (!c) return fresh;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>(
      (r) => (timer = setTimeout(() => r(undefined), this.opts.waitForFreshMs)),
    );
    try {
      return (await Promise.race([fresh, late])) ?? this.current ?? c;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Computes the first roll-up in the background (at server start), so the first reader need not wait. */
  warm(): void {
    if (!this.current && !this.computing) void this.compute().catch((e: unknown) => this.opts.onError?.(e));
  }

  /**
   * Something changed: recompute once after the debounce (whether anyone is reading or not, so the
   * next reader finds it ready) and tell listeners what differs.
   */
  changed(): void {
    this.dirty = true;
    if (this.closed || this.debounce) return;
    const wait = Math.min(5000, Math.max(this.opts.debounceMs, 2 * this.lastComputeMs));
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.compute().catch((e: unknown) => this.opts.onError?.(e));
    }, wait);
    this.debounce.unref?.();
  }

  /** Adds a listener of `fleet` events; returns the function that removes it. */
  listen(fn: (e: FleetEvent) => void): () => void {
    this.listeners.add(fn);
    if (!this.ticker && !this.closed) {
      // Time alone moves freshness: recompute behind (readers keep the current one meanwhile).
      this.ticker = setInterval(() => {
        if (!this.computing && !this.closed)
          void this.compute().catch((e: unknown) => this.opts.onError?.(e));
      }, this.opts.tickMs);
      this.ticker.unref?.();
    }
    // A baseline to diff the first change against.
    if (!this.current) void this.get().catch((e: unknown) => this.opts.onError?.(e));
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.ticker) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  close(): void {
    this.closed = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.ticker) clearInterval(this.ticker);
    this.listeners.clear();
  }

  private compute(): Promise<Snapshot> {
    if (this.computing) {
      // A change during a computation needs a fresh one afterwards: chain it.
      if (!this.dirty) return this.computing;
      return this.computing.then(
        () => (this.dirty ? this.compute() : this.current!),
        () => this.compute(),
      );
    }
    this.dirty = false;
    const run = (async () => {
      const started = performance.now();
      const src = this.source();
      const [status, rollouts] = await Promise.all([
        src.getFleetStatus(),
        src.rolloutViews ? src.rolloutViews().catch(() => [] as RolloutView[]) : Promise.resolve([]),
      ]);
      const devices = deviceItems(status);
      const snap: Snapshot = {
        at: this.opts.now(),
        status,
        rollouts,
        overview: overview(status, devices, rollouts),
        devices,
        deviceIndex: new Map(devices.map((d, i) => [d.deviceId, i])),
        prints: fingerprints(status, devices, rollouts),
      };
      const before = this.current;
      this.current = snap;
      this.lastComputeMs = performance.now() - started;
      if (before) this.announce(before, snap);
      return snap;
    })();
    this.computing = run;
    const clear = () => {
      if (this.computing === run) this.computing = undefined;
    };
    run
      .then(clear, (e: unknown) => {
        clear();
        this.dirty = true;
        throw e;
      })
      .catch(() => undefined);
    return run;
  }

  private announce(before: Snapshot, after: Snapshot): void {
    const devices = changedKeys(before.prints.devices, after.prints.devices);
    const deployments = changedKeys(before.prints.deployments, after.prints.deployments);
    if (!devices.length && !deployments.length && before.status.fleetCommit === after.status.fleetCommit)
      return;
    const e: FleetEvent = {
      generatedAt: after.status.generatedAt,
      fleetCommit: after.status.fleetCommit,
      devices,
      deployments,
    };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }
}
