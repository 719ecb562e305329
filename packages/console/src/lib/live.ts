/**
 * Which server-sent `fleet` events a page refetches on (pure): a page reloads only when something
 * it shows changed.
 */
import type { Route } from './route.js';
import type { FleetEvent } from './types.js';

/** What the current page shows, for deciding whether an event concerns it. */
export interface Shown {
  route: Route;
  /** Device ids on screen (devices list, deployment rows). */
  deviceIds?: ReadonlySet<string>;
  /** Whether the devices page shows a full page (a new device would not fit on it). */
  pageFull?: boolean;
}

const meets = (ids: readonly string[], set: ReadonlySet<string> | undefined): boolean =>
  !!set && ids.some((id) => set.has(id));

/**
 * Whether a `fleet` event concerns the page.
 *
 * @example
 * concerns({ route: { page: 'device', id: 'd1' } }, { devices: ['d1'], deployments: [] }); // true
 */
export function concerns(shown: Shown, e: FleetEvent): boolean {
  const devices = e.devices ?? [];
  const deployments = e.deployments ?? [];
  const r = shown.route;
  switch (r.page) {
    case 'overview':
      return true;
    case 'devices':
      if (!devices.length) return false;
      // With a filter or a search, a device may enter or leave the list; with none, the order
      // (problems first) or a new device may change what a page holds.
      if (r.filter !== 'all' || r.q) return true;
      return meets(devices, shown.deviceIds) || !shown.pageFull;
    case 'device':
      return devices.includes(r.id);
    case 'deployment':
      return deployments.includes(r.name) || meets(devices, shown.deviceIds);
    default:
      return false;
  }
}

/** Parses the data of a `fleet` event (malformed data: undefined). */
export function parseFleetEvent(data: string): FleetEvent | undefined {
  try {
    const v = JSON.parse(data) as Partial<FleetEvent>;
    if (!v || typeof v !== 'object') return undefined;
    const strings = (a: unknown): string[] =>
      Array.isArray(a) ? a.filter((x): x is string => typeof x === 'string') : [];
    return {
      generatedAt: typeof v.generatedAt === 'string' ? v.generatedAt : undefined,
      fleetCommit: typeof v.fleetCommit === 'string' ? v.fleetCommit : null,
      devices: strings(v.devices),
      deployments: strings(v.deployments),
    };
  } catch {
    return undefined;
  }
}
