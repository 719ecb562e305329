/**
 * The on-site hold of a device (docs/rollout.md "On-site hold"): a person at the device stops its
 * agent from applying changes until released. Shared by the agent (which keeps the hold in its
 * state folder and reports it) and the orchestrator (which reads the report):
 *
 * - Git transport: the signed status file `hold.json` on the device's `status` branch
 *   (`{kind: 'DeviceHold', reason, since}`; absent means not held), bound by observed.json like
 *   every other status file.
 * - REST transport (rc.2 has no resource for it): the member `hold` of the
 *   `x-margo-gitops-extensions` object of the device's capabilities document
 *   (`PUT /api/v1/capabilities/{deviceId}`); the server writes it to the same `hold.json`.
 *
 * The reason is free text typed on site: not a secret, but shown in fleet status and terminals, so
 * it is bounded (HOLD_REASON_MAX characters) and stripped of control characters wherever it is read.
 */

/** Status file of a held device (status branch root). */
export const HOLD_FILE = 'hold.json';
/** `kind` of the hold document. */
export const HOLD_KIND = 'DeviceHold';
/** Longest reason kept, in characters (code points); longer ones are cut. */
export const HOLD_REASON_MAX = 200;
/** Reason shown when the person gave none (a hand-made empty hold file still holds). */
export const HOLD_NO_REASON = '(no reason given)';

export interface DeviceHold {
  reason: string;
  /** When the hold was placed (ISO 8601), when known. */
  since?: string;
}

// C0/C1 controls and DEL, and the Unicode bidirectional overrides and isolates, which can make a
// terminal show text other than what is stored.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g;

/**
 * The reason as kept and shown: control characters become one space, runs of white space one
 * space, trimmed, cut to HOLD_REASON_MAX characters (an ellipsis marks a cut).
 * @example sanitiseHoldReason('line 3\nrunning batch 7') // 'line 3 running batch 7'
 */
export function sanitiseHoldReason(text: string): string {
  const flat = text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= HOLD_REASON_MAX ? flat : chars.slice(0, HOLD_REASON_MAX - 1).join('') + '…';
}

/** True when `text` is a date-time `Date.parse` reads (kept as given, normalised to ISO). */
function isoOrUndefined(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length > 64) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * A hold from a parsed document (`hold.json`, or the capabilities extension member): undefined
 * when it is not an object with a string `reason`. The result is sanitised.
 */
export function holdFromValue(v: unknown): DeviceHold | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.reason !== 'string') return undefined;
  const since = isoOrUndefined(o.since);
  return { reason: sanitiseHoldReason(o.reason) || HOLD_NO_REASON, ...(since ? { since } : {}) };
}

/** Throws when `bytes` is not a hold document (the orchestrator lists it as a status problem). */
export function parseDeviceHold(bytes: Buffer | string): DeviceHold {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  if (text.length > 16 * 1024) throw new Error(`${HOLD_FILE} is larger than 16 KiB`);
  const doc = JSON.parse(text) as unknown;
  const hold = holdFromValue(doc);
  if (!hold || (doc as { kind?: unknown }).kind !== HOLD_KIND)
    throw new Error(`${HOLD_FILE} is not a ${HOLD_KIND} document with a string reason`);
  return hold;
}

/** The bytes of `hold.json`: stable key order, two-space JSON, final newline. */
export function buildDeviceHold(h: DeviceHold): string {
  return (
    JSON.stringify(
      { kind: HOLD_KIND, reason: sanitiseHoldReason(h.reason), ...(h.since ? { since: h.since } : {}) },
      null,
      2,
    ) + '\n'
  );
}
