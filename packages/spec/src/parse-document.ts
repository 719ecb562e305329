/** The public entry points: parse, detect, validate and normalise one Margo document. */
import { detectKind } from './detect-kind.js';
import { dedupeFindings, finding, hasErrors, sortFindings } from './finding.js';
import type { AnyMargoDocument, DocumentKind, Finding, Severity } from './model.js';
import { normaliseApplicationDeployment } from './normalise-application-deployment.js';
import { normaliseApplicationDescription } from './normalise-application-description.js';
import { normaliseDeviceCapabilities } from './normalise-device-capabilities.js';
import { normaliseDeploymentStatus, normaliseDesiredStateManifest } from './normalise-status.js';
import { checkApplicationDescription } from './rules-application-description.js';
import { normaliseProblemDetail } from './normalise-problem-detail.js';
import {
  checkApplicationDeployment,
  checkDeploymentStatus,
  checkDeviceCapabilities,
  checkManifestVersion,
} from './rules-other.js';
import { validateAgainstSchema } from './schemas.js';
import { parseSource, type SourceOptions } from './source.js';
import { isRecord, rec } from './read.js';

export interface ParseOptions extends SourceOptions {
  /** Validate as this kind instead of detecting it. */
  kind?: DocumentKind;
  /**
   * Severity for a document that is not a Margo document at all (not a mapping, or no kind and
   * no Margo shape, or a foreign kind without Margo shape). Default `error`; folder walks use
   * `info` so that other YAML/JSON files beside Margo documents are reported, not failed.
   */
  foreignSeverity?: Severity;
}

export interface ParseResult {
  /** The detected (or requested) kind; undefined when unknown. */
  kind?: DocumentKind;
  /** The normalised document; present only when there is no error finding. */
  model?: AnyMargoDocument;
  /** Every finding, sorted by position; errors, warnings and infos. */
  findings: Finding[];
}

const KIND_HINT: Record<DocumentKind, string> = {
  ApplicationDescription: 'ApplicationDescription',
  ApplicationDeployment: 'ApplicationDeployment',
  DeploymentStatus: 'DeploymentStatus (or DeploymentStatusManifest)',
  DeviceCapabilities: 'DeviceCapabilities (or DeviceCapabilitiesManifest)',
  DesiredStateManifest: 'a state manifest',
  ProblemDetail: 'a problem detail (RFC 9457)',
};

/**
 * Parses a Margo document (YAML or JSON, text or bytes), detects its kind, validates it against
 * its JSON Schema and the rules beyond it, and normalises it into the model of `model.ts`.
 * Never throws on bad input: every problem is a finding with code, JSON path and line:column.
 *
 * @example
 * const { kind, model, findings } = parseDocument(readFileSync('margo.yaml'), { file: 'margo.yaml' });
 * if (kind === 'ApplicationDescription' && model) console.log(model.id, model.version);
 * for (const f of findings) console.log(formatFinding(f));
 */
export function parseDocument(input: string | Uint8Array, opts: ParseOptions = {}): ParseResult {
  const src = parseSource(input, opts);
  const findings: Finding[] = [...src.findings];
  const done = (kind: DocumentKind | undefined, model?: AnyMargoDocument): ParseResult => {
    for (const f of findings) {
      if (opts.file !== undefined && f.file === undefined) f.file = opts.file;
      if (f.line === undefined) {
        const at = src.locate(f.path);
        if (at) {
          f.line = at.line;
          f.column = at.column;
        }
      }
    }
    const out = sortFindings(dedupeFindings(findings));
    return { ...(kind ? { kind } : {}), ...(model && !hasErrors(out) ? { model } : {}), findings: out };
  };
  if (hasErrors(findings) || src.data === undefined) return done(undefined);
  const data = src.data;
  if (!isRecord(data)) {
    findings.push(
      finding(
        'SPEC_NOT_AN_OBJECT',
        `the document is ${Array.isArray(data) ? 'a list' : `a single value (${JSON.stringify(data)?.slice(0, 40)})`}; a Margo document is a mapping with apiVersion and kind`,
        '',
        opts.foreignSeverity ?? 'error',
      ),
    );
    return done(undefined);
  }
  let kind = opts.kind;
  if (!kind) {
    const guess = detectKind(data);
    kind = guess.kind;
    if (guess.unknownDeclared) {
      findings.push(
        finding(
          'SPEC_UNKNOWN_KIND',
          kind
            ? `kind ${JSON.stringify(guess.declared)} is not a Margo kind; the document looks like ${KIND_HINT[kind]}, so set kind to that`
            : `kind ${JSON.stringify(guess.declared)} is not a Margo kind margo-gitops knows`,
          '/kind',
          kind ? 'error' : (opts.foreignSeverity ?? 'error'),
        ),
      );
    } else if (!kind) {
      findings.push(
        finding(
          'SPEC_UNKNOWN_KIND',
          'cannot tell which Margo document this is: it has no kind and no fields that identify one',
          '',
          opts.foreignSeverity ?? 'error',
        ),
      );
    }
  }
  if (!kind) return done(undefined);
  findings.push(...validateAgainstSchema(kind, data));
  let model: AnyMargoDocument;
  switch (kind) {
    case 'ApplicationDescription': {
      const app = normaliseApplicationDescription(data, src.sourceText);
      findings.push(...checkApplicationDescription(app, typeof rec(data.metadata).version === 'number'));
      model = app;
      break;
    }
    case 'ApplicationDeployment': {
      const dep = normaliseApplicationDeployment(data, src.sourceText);
      findings.push(...checkApplicationDeployment(dep));
      model = dep;
      break;
    }
    case 'DeploymentStatus': {
      findings.push(...checkDeploymentStatus(data));
      const status = normaliseDeploymentStatus(data, src.sourceText);
      findings.push(...checkManifestVersion(status.adoptedManifestVersion, '/adoptedManifestVersion'));
      model = status;
      break;
    }
    case 'DeviceCapabilities':
      findings.push(...checkDeviceCapabilities(data));
      model = normaliseDeviceCapabilities(data);
      break;
    case 'DesiredStateManifest': {
      const manifest = normaliseDesiredStateManifest(data, src.sourceText);
      findings.push(...checkManifestVersion(manifest.manifestVersion, '/manifestVersion'));
      model = manifest;
      break;
    }
    case 'ProblemDetail':
      model = normaliseProblemDetail(data);
      break;
  }
  return done(kind, model);
}

/** Like `parseDocument`, plus `valid` (true when no finding is an error). */
export function validateDocument(
  input: string | Uint8Array,
  opts: ParseOptions = {},
): ParseResult & { valid: boolean } {
  const result = parseDocument(input, opts);
  return { ...result, valid: !hasErrors(result.findings) };
}
