import semver from 'semver';

export type VersionResolution = { version: string } | { error: string };

/**
 * Picks the catalog version for an intent's `application.version`: an exact match wins; otherwise
 * it is read as a semver range and the highest satisfying catalog version is chosen (so ranges
 * follow new catalog versions). Pre-releases are chosen only when the range names one.
 *
 * @example
 * resolveVersion('^1.2', ['1.1.0', '1.2.0', '1.4.1', '2.0.0']); // { version: '1.4.1' }
 */
export function resolveVersion(wanted: string, available: readonly string[]): VersionResolution {
  if (available.includes(wanted)) return { version: wanted };
  const range = semver.validRange(wanted, { loose: true });
  if (range === null) {
    return {
      error: `version ${wanted} is not in the catalog (available: ${available.join(', ') || 'none'})`,
    };
  }
  // Catalog versions such as `1.0` are coerced for comparison but reported as written.
  const byCoerced = new Map<string, string>();
  for (const v of available) {
    const parsed = semver.valid(v, { loose: true }) ?? semver.coerce(v, { includePrerelease: true })?.version;
    if (parsed && !byCoerced.has(parsed)) byCoerced.set(parsed, v);
    else if (parsed && semver.valid(v)) byCoerced.set(parsed, v);
  }
  const best = semver.maxSatisfying([...byCoerced.keys()], range, { loose: true });
  if (!best) {
    return { error: `no catalog version satisfies ${wanted} (available: ${available.join(', ') || 'none'})` };
  }
  return { version: byCoerced.get(best)! };
}
