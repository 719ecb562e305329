/**
 * The I/O shell of validation: reads files, walks folders and checks application packages. The
 * only module of packages/spec that touches the file system.
 */
import { lstat, open, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { finding, sortFindings } from './finding.js';
import type { ApplicationDescription, Finding } from './model.js';
import { parseDocument, type ParseOptions } from './parse-document.js';
import { rec, str } from './read.js';
import { DEFAULT_MAX_BYTES, parseSource } from './source.js';
import { ioFinding, validateContent, type FileKind } from './validate-content.js';

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
  try {
    const st = await stat(path);
    if (st.size > maxBytes) {
      return {
        finding: {
          ...finding(
            'SPEC_FILE_TOO_LARGE',
            `the file has ${st.size} bytes, more than the limit of ${maxBytes}`,
          ),
          file: path,
        },
      };
    }
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
      let total = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total >= buf.length) break;
      }
      if (total > maxBytes)
        return {
          finding: {
            ...finding('SPEC_FILE_TOO_LARGE', `the file is larger than the limit of ${maxBytes} bytes`),
            file: path,
          },
        };
      return { bytes: buf.subarray(0, total) };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return {
      finding: ioFinding(
        path,
        `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      ),
    };
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

/**
 * Checks that the files the catalog names (`descriptionFile`, `icon`, `licenseFile`,
 * `releaseNotes`) exist inside the package folder. URLs are not fetched.
 */
export async function checkPackageResources(
  dir: string,
  app: ApplicationDescription,
  file: string,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const application = rec(app.catalog.application);
  for (const key of CATALOG_FILES) {
    const ref = str(application[key]);
    if (!ref || isUrl(ref)) continue;
    const path = `/metadata/catalog/application/${key}`;
    const where = { file };
    const rel = ref.replace(/^file:(\/\/)?/i, '');
    const target = resolve(dir, rel);
    const inside = relative(resolve(dir), target);
    if (isAbsolute(rel) || inside.startsWith('..') || inside === '') {
      out.push({
        ...finding(
          'SPEC_PACKAGE_RESOURCE_MISSING',
          `catalog ${key} "${ref}" points outside the package folder`,
          path,
        ),
        ...where,
      });
      continue;
    }
    try {
      const st = await stat(target);
      if (!st.isFile())
        out.push({
          ...finding('SPEC_PACKAGE_RESOURCE_MISSING', `catalog ${key} "${ref}" is not a file`, path),
          ...where,
        });
    } catch {
      out.push({
        ...finding(
          'SPEC_PACKAGE_RESOURCE_MISSING',
          `catalog ${key} "${ref}" does not exist in the package (${normalize(rel).split(sep).join('/')})`,
          path,
        ),
        ...where,
      });
    }
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

/**
 * Validates files and folders: a folder holding `margo.yaml` is an application package; other
 * folders are walked (not following symlinks; skipping dot-folders, node_modules, dist) and every
 * `.yaml`, `.yml` and `.json` file in them is validated.
 */
export async function validatePaths(
  paths: readonly string[],
  opts: ValidateFilesOptions = {},
): Promise<FileResult[]> {
  const results: FileResult[] = [];
  const maxFiles = opts.maxFiles ?? 100_000;
  const visit = async (path: string, explicit: boolean): Promise<void> => {
    if (results.length >= maxFiles) return;
    let st;
    try {
      st = explicit ? await stat(path) : await lstat(path);
    } catch (e) {
      results.push({
        file: path,
        findings: [
          ioFinding(
            path,
            `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          ),
        ],
      });
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = (await readdir(path)).sort();
      } catch (e) {
        results.push({
          file: path,
          findings: [
            ioFinding(
              path,
              `cannot list ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            ),
          ],
        });
        return;
      }
      if (names.includes(PACKAGE_DESCRIPTION_FILE)) {
        results.push(await validateApplicationPackage(path, opts));
        return;
      }
      for (const name of names) {
        if (name.startsWith('.') || SKIP_DIRS.has(name)) continue;
        const child = join(path, name);
        const cst = await lstat(child).catch(() => undefined);
        if (!cst || cst.isSymbolicLink()) continue;
        if (cst.isDirectory() || DOCUMENT_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext)))
          await visit(child, false);
      }
      return;
    }
    if (st.isFile()) results.push(await validateFile(path, opts));
  };
  for (const p of paths) await visit(p, true);
  return results;
}
