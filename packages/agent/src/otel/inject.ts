import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { ComponentContext } from '../drivers/driver.js';
import { composeOtelOverride, OTEL_OVERRIDE_FILE } from './compose-otel.js';
import { helmOtelValues, mergeUnder } from './helm-otel.js';
import { otelEnvironment } from './otel-settings.js';

/**
 * Writes (or, with no collector configured, removes) the OTEL_* Compose override beside the
 * verified, unpacked compose file (`composeText` its content). Returns its path relative to `dir`,
 * or undefined when there is none. Env files are read only inside `dir` (a package cannot make the
 * agent read other files).
 */
export function writeComposeOtelOverride(
  ctx: ComponentContext,
  dir: string,
  composeFile: string,
  composeText: string,
): string | undefined {
  const rel = join(dirname(composeFile), OTEL_OVERRIDE_FILE);
  const path = join(dir, rel);
  if (!ctx.otel) {
    rmSync(path, { force: true });
    return undefined;
  }
  const { collector, identity } = ctx.otel;
  const base = resolve(dir, dirname(composeFile));
  const root = resolve(dir) + sep;
  const o = composeOtelOverride(
    composeText,
    (service) => otelEnvironment(collector, identity, service),
    (p) => {
      const f = resolve(base, p);
      if (!f.startsWith(root) || !existsSync(f)) return undefined;
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return undefined;
      }
    },
  );
  if (!o) {
    rmSync(path, { force: true });
    return undefined;
  }
  writeFileSync(path, o.text);
  ctx.logger.debug(
    { injected: o.injected, collector: collector.endpoint },
    'OpenTelemetry environment injected',
  );
  return rel;
}

/** The chart's values with the collector's under `global.margo.otel` (parameter values win). */
export function withHelmOtelValues(
  ctx: ComponentContext,
  values: Record<string, unknown>,
): Record<string, unknown> {
  if (!ctx.otel) return values;
  const { collector, identity } = ctx.otel;
  const service = identity.component;
  return mergeUnder(
    values,
    helmOtelValues(collector, otelEnvironment(collector, identity, service), service),
  );
}
