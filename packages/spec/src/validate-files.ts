/**
 * The I/O shell of validation: reads files, walks folders and checks application packages. The
 * only module of packages/spec that touches the file system.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { finding, sortFindings } from './finding.js';
import { toPointer } from './json-pointer.js';
import type { ApplicationDescription, Finding } from './model.js';
import { parseDocument, type ParseOptions } from './parse-document.js';
import { rec, str } from './read.js';
import { DEFAULT_MAX_BYTES, parseSource } from './source.js';
import { ioFinding, validateContent, type FileKind } from './validate-content.js';

function errnoText(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

export const PACKAGE_DESCRIPTION_FILE = 'margo.yaml';
const DOCUMENT_EXTENSIONS = ['.yaml', '.yml', '.json'];
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist']);

export interface FileResult {
  /** The file as named in findings (the path given, joined with the walked names). */
  file: string;
  kind?: FileKind;
  /** True when the file is the margo.yaml of an application package folder. */
  package?: boolean;
  findings: Finding[];
}

export interface ValidateFilesOptions extends Omit<ParseOptions, 'file'> {
  /** Stop walking after this many files (default 100,000). */
  maxFiles?: number;
}

/**
 * Reads a file refusing anything over the size limit before reading it (stat first, then at most
 * limit + 1 bytes, so a file growing in between is still caught).
 */
export async function readBounded(
  path: string,
  maxBytes = DEFAULT_MAX_BYTES,
): Promise<{ bytes: Uint8Array } | { finding: Finding }> {
  return readBoundedSync(path, maxBytes);
}

/**
 * Synchronous core of `readBounded`. Margo documents are small and usually in the page cache;
 * synchronous reads avoid a thread-pool round trip per call (several times faster on a busy
 * machine) and block for microseconds only.
 */
export function readBoundedSync(
  path: string,
  maxBytes = DEFAULT_MAX_BYTES,
): { bytes: Uint8Array } | { finding: Finding } {
  const tooLarge = (size: number | undefined) => ({
    finding: {
      ...finding(
        'SPEC_FILE_TOO_LARGE',
        size === undefined
          ? `the file is larger than the limit of ${maxBytes} bytes`
          : `the file has ${size} bytes, more than the limit of ${maxBytes}`,
      ),
      file: path,
    },
  });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return { finding: ioFinding(path, `cannot read the file: ${errnoText(e)}`) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { finding: ioFinding(path, 'not a regular file') };
    if (st.size > maxBytes) return tooLarge(st.size);
    // Read at most limit + 1 bytes, so a file that grew since the stat is still caught.
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, total, buf.length - total, total);
      if (n === 0) break;
      total += n;
      if (total >= buf.length) break;
    }
    if (total > maxBytes) return tooLarge(undefined);
    return { bytes: buf.subarray(0, total) };
  } catch (e) {
    return { finding: ioFinding(path, `cannot read the file: ${errnoText(e)}`) };
  } finally {
    closeSync(fd);
  }
}

/** Validates one file of any kind (Margo or fleet document). */
export async function validateFile(path: string, opts: ValidateFilesOptions = {}): Promise<FileResult> {
  const read = await readBounded(path, opts.maxBytes);
  if ('finding' in read) return { file: path, findings: [read.finding] };
  const r = validateContent(read.bytes, { ...opts, file: path });
  return { file: path, ...(r.kind ? { kind: r.kind } : {}), findings: r.findings };
}

function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^file:/i.test(s);
}

/** Catalog fields that name files of the package. */
const CATALOG_FILES = ['descriptionFile', 'icon', 'licenseFile', 'releaseNotes'] as const;

/** A file reference of the package: where it is written and what it names. */
interface FileRef {
  path: string;
  label: string;
  ref: string;
  /** Compose packageLocation `X.tar.gz`/`X.tgz` may be a folder `X/` that `margo app publish` packs. */
  packable?: boolean;
}

function isSafeStat(path: string): { file: boolean; dir: boolean } | undefined {
  try {
    const st = statSync(path);
    return { file: st.isFile(), dir: st.isDirectory() };
  } catch {
    return undefined;
  }
}

/**
 * Checks that the files the package names exist inside its folder: the catalog files
 * (`descriptionFile`, `icon`, `licenseFile`, `releaseNotes`) and relative Compose
 * `packageLocation`/`keyLocation` (a `X.tar.gz`/`X.tgz` package may also be a folder `X/`, packed
 * at publish time). URLs are not fetched; paths leaving the folder are refused.
 */
export async function checkPackageResources(
  dir: string,
  app: ApplicationDescription,
  file: string,
): Promise<Finding[]> {
  const refs: FileRef[] = [];
  const application = rec(app.catalog.application);
  for (const key of CATALOG_FILES) {
    const ref = str(application[key]);
    if (ref) refs.push({ path: `/metadata/catalog/application/${key}`, label: `catalog ${key}`, ref });
  }
  app.profiles.forEach((p, i) =>
    p.components.forEach((c, j) => {
      for (const key of ['packageLocation', 'keyLocation'] as const) {
        const ref = c.compose?.[key];
        if (ref) {
          refs.push({
            path: toPointer(['deploymentProfiles', i, 'components', j, 'properties', key]),
            label: `component "${c.name}" ${key}`,
            ref,
            packable: key === 'packageLocation',
          });
        }
      }
    }),
  );
  const out: Finding[] = [];
  const root = resolve(dir);
  for (const r of refs) {
    if (isUrl(r.ref)) continue;
    const missing = (message: string) =>
      out.push({ ...finding('SPEC_PACKAGE_RESOURCE_MISSING', message, r.path), file });
    const rel = r.ref.replace(/^file:(\/\/)?/i, '');
    const target = resolve(root, rel);
    const inside = relative(root, target);
    if (isAbsolute(rel) || inside.startsWith('..') || inside === '') {
      missing(`${r.label} "${r.ref}" points outside the package folder`);
      continue;
    }
    const st = isSafeStat(target);
    if (st?.file) continue;
    if (st?.dir) {
      missing(`${r.label} "${r.ref}" is a folder, not a file`);
      continue;
    }
    const folder = r.packable ? /^(.*)\.(tar\.gz|tgz)$/.exec(target)?.[1] : undefined;
    if (folder && isSafeStat(folder)?.dir) continue;
    missing(
      `${r.label} "${r.ref}" does not exist in the package (${normalize(rel).split(sep).join('/')})` +
        (r.packable && folder
          ? ` and there is no folder ${relative(root, folder).split(sep).join('/')}/ to pack it from`
          : ''),
    );
  }
  return out;
}

/**
 * Validates an application package folder: its `margo.yaml` (every rule) and the catalog files
 * it references. Findings carry file paths (`<dir>/margo.yaml`).
 *
 * @example
 * const { findings, model } = await validateApplicationPackage('catalog/hello/1.0.0');
 */
export async function validateApplicationPackage(
  dir: string,
  opts: ValidateFilesOptions = {},
): Promise<FileResult & { model?: ApplicationDescription }> {
  const file = join(dir, PACKAGE_DESCRIPTION_FILE);
  const read = await readBounded(file, opts.maxBytes);
  if ('finding' in read) {
    const missing = read.finding.code === 'IO_ERROR';
    return {
      file,
      package: true,
      findings: [
        missing
          ? {
              ...finding(
                'SPEC_PACKAGE_NO_DESCRIPTION',
                `the application package ${dir} has no readable ${PACKAGE_DESCRIPTION_FILE}`,
              ),
              file,
            }
          : read.finding,
      ],
    };
  }
  const r = parseDocument(read.bytes, { ...opts, file, kind: 'ApplicationDescription' });
  const findings = [...r.findings];
  const app = r.model?.kind === 'ApplicationDescription' ? r.model : undefined;
  if (app) {
    // Positions come from a second parse, only when needed (rare on good packages).
    const extra = await checkPackageResources(dir, app, file);
    if (extra.length) {
      const src = parseSource(read.bytes, opts);
      for (const f of extra) Object.assign(f, src.locate(f.path) ?? {});
      findings.push(...extra);
    }
  }
  const result: FileResult & { model?: ApplicationDescription } = {
    file,
    kind: 'ApplicationDescription',
    package: true,
    findings: sortFindings(findings),
  };
  if (app && !findings.some((f) => f.severity === 'error')) result.model = app;
  return result;
}

type Task =
  | { type: 'file' | 'package'; path: string; walked?: boolean }
  | { type: 'error'; path: string; message: string };

/** Walks the given paths into an ordered task list (directory entries sorted by name). */
async function collect(paths: readonly string[], maxFiles: number): Promise<Task[]> {
  const tasks: Task[] = [];
  const walkDir = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      tasks.push({ type: 'error', path: dir, message: `cannot list ${dir}: ${errnoText(e)}` });
      return;
    }
    if (entries.some((d) => d.name === PACKAGE_DESCRIPTION_FILE && !d.isDirectory())) {
      tasks.push({ type: 'package', path: dir });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of entries) {
      if (tasks.length >= maxFiles) return;
      if (d.name.startsWith('.') || SKIP_DIRS.has(d.name) || d.isSymbolicLink()) continue;
      const child = join(dir, d.name);
      if (d.isDirectory()) await walkDir(child);
      else if (d.isFile() && DOCUMENT_EXTENSIONS.some((ext) => d.name.toLowerCase().endsWith(ext))) {
        tasks.push({ type: 'file', path: child, walked: true });
      }
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      tasks.push({ type: 'error', path: p, message: `cannot read ${p}: ${errnoText(e)}` });
      continue;
    }
    if (st.isDirectory()) await walkDir(p);
    else if (basename(p) === PACKAGE_DESCRIPTION_FILE) tasks.push({ type: 'package', path: dirname(p) });
    else tasks.push({ type: 'file', path: p });
  }
  return tasks;
}

/**
 * Validates files and folders: a folder holding `margo.yaml` is an application package; other
 * folders are walked (not following symlinks; skipping dot-folders, node_modules, dist) and every
 * `.yaml`, `.yml` and `.json` file in them is validated. Files found by walking that are not Margo
 * (or fleet) documents at all get an `info` finding instead of an error; files named explicitly
 * must be Margo documents; a file named `margo.yaml` is checked as its folder's package.
 * Results come back in walk order.
 */
export async function validatePaths(
  paths: readonly string[],
  opts: ValidateFilesOptions = {},
): Promise<FileResult[]> {
  const tasks = await collect(paths, opts.maxFiles ?? 100_000);
  const results: FileResult[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      const t = tasks[i]!;
      if (t.type === 'error') results[i] = { file: t.path, findings: [ioFinding(t.path, t.message)] };
      else if (t.type === 'package') {
        // Drop the model: a walk over a large catalog should not keep every document alive.
        const { model: _model, ...rest } = await validateApplicationPackage(t.path, opts);
        results[i] = rest;
      } else results[i] = await validateFile(t.path, t.walked ? { foreignSeverity: 'info', ...opts } : opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, tasks.length) }, worker));
  return results;
}
