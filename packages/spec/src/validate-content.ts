/** Validates the bytes of one file of any kind margo-gitops knows: Margo documents and fleet documents. Pure. */
import { finding } from './finding.js';
import { parseDeploymentIntent, parseFleetDevice, parseMaintenanceWindow } from './fleet/index.js';
import type { Finding } from './model.js';
import { parseDocument, type ParseOptions, type ParseResult } from './parse-document.js';
import { isRecord } from './read.js';
import { decodeInput, DEFAULT_MAX_BYTES, parseSource } from './source.js';

/** What a file was recognised as: a Margo kind, or a fleet kind (`Device`, `Deployment`, `MaintenanceWindow`). */
export type FileKind =
  | NonNullable<ParseResult['kind']>
  | 'FleetDevice'
  | 'FleetDeployment'
  | 'FleetMaintenanceWindow';

const fleetParsers = {
  Device: [parseFleetDevice, 'FleetDevice'],
  Deployment: [parseDeploymentIntent, 'FleetDeployment'],
  MaintenanceWindow: [parseMaintenanceWindow, 'FleetMaintenanceWindow'],
} as const satisfies Record<
  string,
  readonly [(text: string, file?: string) => { findings: Finding[] }, FileKind]
>;

export interface ContentResult {
  kind?: FileKind;
  findings: Finding[];
}

/**
 * Validates one file's bytes: Margo documents through `parseDocument`, fleet documents
 * (`kind: Device` / `Deployment` / `MaintenanceWindow` with a `fleet.` apiVersion) through the fleet parsers.
 * The input guards (size, binary, UTF-8, nesting, aliases) apply to both.
 */
export function validateContent(input: string | Uint8Array, opts: ParseOptions = {}): ContentResult {
  const src = parseSource(input, opts);
  const data = src.data;
  if (
    isRecord(data) &&
    typeof data.kind === 'string' &&
    Object.hasOwn(fleetParsers, data.kind) &&
    String(data.apiVersion ?? '').startsWith('fleet.')
  ) {
    const [parse, kind] = fleetParsers[data.kind as keyof typeof fleetParsers];
    const decoded = decodeInput(input, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    if ('text' in decoded) {
      const r = parse(decoded.text, opts.file);
      const findings = [...src.findings, ...r.findings].map((f) => ({
        ...f,
        ...(opts.file && !f.file ? { file: opts.file } : {}),
      }));
      return { kind, findings };
    }
  }
  const r = parseDocument(input, opts);
  return { ...(r.kind ? { kind: r.kind } : {}), findings: r.findings };
}

/** A finding for a file that could not be read (no position). */
export function ioFinding(file: string, message: string): Finding {
  return { ...finding('IO_ERROR', message), file };
}
