import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';

/** `<data>/config.json`: server settings written by `margo init`. */
export interface ServerSettings {
  listen: string;
  publicUrl: string;
  reconcileIntervalSeconds: number;
  /** Largest blob of a catalog package's oci/ layout the Git server accepts (default 512 MiB). */
  maxLayerBytes?: number;
  /** Fleet-wide cap on devices changing at once across every rollout (docs/rollout.md); absent: none. */
  maxConcurrentChanges?: number;
  /** OTLP/HTTP collector `margo serve` sends its traces to (base URL; see docs/observability.md). */
  otlpEndpoint?: string;
  /** The Workload Management API listener (`margo init` records it; absent: 127.0.0.1:8471). */
  api?: { listen: string };
}

export const dataDirDefault = (cwd: string, env: NodeJS.ProcessEnv) =>
  resolve(cwd, env.MARGO_DATA ?? 'margo-data');

export async function readServerSettings(dataDir: string): Promise<ServerSettings> {
  const file = join(dataDir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new MargoError('CLI_DATA_DIR_NOT_FOUND', `${dataDir} is not a margo data folder (no config.json)`, {
      data: { dataDir },
    });
  }
  try {
    return JSON.parse(text) as ServerSettings;
  } catch (e) {
    throw new MargoError('CLI_DATA_DIR_NOT_FOUND', `${file} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
      data: { dataDir },
    });
  }
}

export async function writeServerSettings(dataDir: string, s: ServerSettings): Promise<void> {
  await writeFile(join(dataDir, 'config.json'), JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
}
