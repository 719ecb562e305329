import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildDeviceHold,
  holdFromValue,
  HOLD_NO_REASON,
  MargoError,
  sanitiseHoldReason,
  type DeviceHold,
} from '@margo-gitops/spec';
import { removeFileDurable, writeFileAtomic } from '../state/atomic-write.js';

/**
 * The on-site hold in the agent's state folder: `<state>/hold.json`. `margo-agent hold` writes it
 * (atomically), `margo-agent release` removes it, and the running agent reads it on every poll.
 * Any file there holds the device, so a person can also create it by hand: JSON `{reason}` or
 * plain text (the text is the reason). Fail-safe: a file that cannot be read still holds.
 */
export const HOLD_STATE_FILE = 'hold.json';

export function holdPath(stateDir: string): string {
  return join(stateDir, HOLD_STATE_FILE);
}

/** The hold in force, or undefined. Never throws. */
export function readHold(stateDir: string): DeviceHold | undefined {
  const path = holdPath(stateDir);
  let text: string;
  let mtime: Date | undefined;
  try {
    text = readFileSync(path, 'utf8');
    mtime = statSync(path).mtime;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // There but unreadable (permissions): someone meant to hold the device.
    return { reason: `hold file unreadable (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  let hold: DeviceHold | undefined;
  try {
    hold = holdFromValue(JSON.parse(text));
  } catch {
    // not JSON: a hand-written note
  }
  hold ??= { reason: sanitiseHoldReason(text) || HOLD_NO_REASON };
  return hold.since || !mtime ? hold : { ...hold, since: mtime.toISOString() };
}

/**
 * Places (or re-words) the hold. The reason is required; it is stored sanitised (control
 * characters out, at most HOLD_REASON_MAX characters). A hold already in force keeps its `since`.
 * Returns the hold written and whether one was already in force.
 */
export function placeHold(
  stateDir: string,
  reason: string,
  now: Date = new Date(),
): { hold: DeviceHold; already: boolean } {
  const clean = sanitiseHoldReason(reason);
  if (!clean)
    throw new MargoError('USAGE_ERROR', 'a hold needs a reason: margo-agent hold --reason "TEXT"', {
      hint: 'Say why, e.g. --reason "line 3 running batch 7 until 18:00": it shows in fleet status.',
    });
  const previous = readHold(stateDir);
  const hold: DeviceHold = { reason: clean, since: previous?.since ?? now.toISOString() };
  writeFileAtomic(holdPath(stateDir), buildDeviceHold(hold), 0o644);
  return { hold, already: previous !== undefined };
}

/** Removes the hold; returns the one that was in force, or undefined when there was none. */
export function releaseHold(stateDir: string): DeviceHold | undefined {
  const previous = readHold(stateDir);
  if (previous) removeFileDurable(holdPath(stateDir));
  return previous;
}
