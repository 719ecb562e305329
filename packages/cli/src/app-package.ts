import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { MargoError } from '@margo-gitops/spec';

export interface AppMeta {
  id: string;
  version: string;
  name?: string;
  description?: string;
  profiles: string[];
  parameters: string[];
  /** Relative compose packageLocation values (to be packed from a folder when missing). */
  packageLocations: string[];
  /** Every component of every deployment profile, in document order. */
  components: AppComponent[];
}

export interface AppComponent {
  /** The deployment profile's `type` (compose, helm, helm.v3, ...). */
  profileType: string;
  name: string;
  packageLocation?: string;
  repository?: string;
  revision?: string;
}

/** Reads what the CLI needs from `<dir>/margo.yaml` (any Margo era: metadata.id or top-level id). */
export async function readAppMeta(dir: string, label = dir): Promise<AppMeta> {
  const file = join(dir, 'margo.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new MargoError(
      'CLI_APP_DIR_INVALID',
      `${label}: no margo.yaml (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      {
        cause: e,
        data: { path: file },
      },
    );
  }
  return parseAppMeta(text, file);
}

/** Pure part of readAppMeta. */
export function parseAppMeta(text: string, file: string): AppMeta {
  let doc: Record<string, any>;
  try {
    doc = YAML.parse(text) as Record<string, any>;
  } catch (e) {
    throw new MargoError('CLI_APP_DIR_INVALID', `${file}: not valid YAML: ${(e as Error).message}`, {
      cause: e,
      data: { path: file },
    });
  }
  if (!doc || typeof doc !== 'object')
    throw new MargoError('CLI_APP_DIR_INVALID', `${file}: not a YAML mapping`, { data: { path: file } });
  const md = (doc.metadata ?? {}) as Record<string, any>;
  const id = doc.id ?? md.id;
  const version = doc.version ?? md.version;
  if (typeof id !== 'string' || !/^[a-z0-9-]{1,200}$/.test(id)) {
    throw new MargoError('CLI_APP_DIR_INVALID', `${file}: no valid application id (metadata.id or id)`, {
      data: { path: file },
    });
  }
  if (
    version === undefined ||
    version === null ||
    String(version) === '' ||
    /[/\\]|\.\./.test(String(version))
  ) {
    throw new MargoError('CLI_APP_DIR_INVALID', `${file}: no valid version (metadata.version or version)`, {
      data: { path: file },
    });
  }
  const profiles: any[] = Array.isArray(doc.deploymentProfiles) ? doc.deploymentProfiles : [];
  const packageLocations: string[] = [];
  const components: AppComponent[] = [];
  for (const p of profiles) {
    for (const c of Array.isArray(p?.components) ? p.components : []) {
      const props = (c?.properties ?? {}) as Record<string, unknown>;
      const loc = props.packageLocation;
      if (typeof loc === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(loc)) packageLocations.push(loc);
      if (typeof c?.name !== 'string') continue;
      const comp: AppComponent = { profileType: String(p?.type ?? ''), name: c.name };
      if (typeof loc === 'string') comp.packageLocation = loc;
      if (typeof props.repository === 'string') comp.repository = props.repository;
      if (typeof props.revision === 'string' || typeof props.revision === 'number')
        comp.revision = String(props.revision);
      components.push(comp);
    }
  }
  const name = doc.name ?? md.name;
  const description = doc.description ?? md.description;
  return {
    id,
    version: String(version),
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof description === 'string' ? { description: description.trim() } : {}),
    profiles: profiles.map((p) => String(p?.type ?? '?')),
    parameters: Object.keys(doc.parameters ?? {}),
    packageLocations,
    components,
  };
}
