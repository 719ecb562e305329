/**
 * Turns bytes or text into parsed YAML/JSON data plus a position index, refusing hostile input
 * (too large, binary, not UTF-8, alias bombs, absurd nesting) with findings instead of crashes.
 * Pure: no I/O.
 *
 * Two parsers: `yaml` gives node positions (line:column of every finding) but is slow; `js-yaml`
 * is many times faster but has no positions. Documents without anchors/aliases are read with
 * js-yaml first; the `yaml` document is built lazily, only when a position or the source text of
 * a scalar is asked for (i.e. when there is something to report). Anything js-yaml rejects, and
 * anything using anchors/aliases, goes through `yaml` (with its alias-expansion limit).
 */
import jsyaml from 'js-yaml';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node,
} from 'yaml';
import { finding } from './finding.js';
import { fromPointer } from './json-pointer.js';
import type { Finding } from './model.js';

export const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ALIAS_COUNT = 50;
/** Pre-parse guard: no line may start deeper than this column (indent + compact `- ` markers). */
const MAX_COLUMN = 1000;
/** Pre-parse guard: flow collections (`[`, `{`) nested deeper than this are refused. */
const MAX_FLOW_DEPTH = 256;

export interface SourceOptions {
  /** File name put into findings. */
  file?: string;
  /** Refuse input larger than this many bytes (default 5 MiB). */
  maxBytes?: number;
  /** Refuse documents nested deeper than this (default 64). */
  maxDepth?: number;
  /** Accept a file with several `---` documents (only the first is validated). Default false. */
  allowMultiDocument?: boolean;
}

export interface Position {
  line: number;
  column: number;
}

export interface ParsedSource {
  /** The parsed first document as plain data; undefined when parsing failed. */
  data: unknown;
  /** Every document when the caller allowed several. */
  documents: unknown[];
  findings: Finding[];
  /** 1-based line/column of the node at a JSON pointer (or of its nearest existing ancestor). */
  locate(pointer: string): Position | undefined;
  /** The scalar as written in the source (e.g. `1.0` for a YAML float), when the pointer names a scalar. */
  sourceText(pointer: string): string | undefined;
}

/** Options used for every YAML parse: YAML 1.2 core schema, unique keys, positions. */
function parseOptions(lineCounter: LineCounter) {
  return { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, version: '1.2' as const };
}

const emptyLocate = (): Position | undefined => undefined;

function failed(findings: Finding[]): ParsedSource {
  return { data: undefined, documents: [], findings, locate: emptyLocate, sourceText: () => undefined };
}

/** Decodes bytes to text, or explains why that is refused. */
export function decodeInput(
  input: string | Uint8Array,
  maxBytes = DEFAULT_MAX_BYTES,
): { text: string } | { finding: Finding } {
  if (input === undefined || input === null)
    return { finding: finding('SPEC_EMPTY_DOCUMENT', 'no document was given') };
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    return { finding: finding('SPEC_BINARY', 'the document must be text or bytes') };
  }
  if (typeof input === 'string') {
    // Cheap upper bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
    if (
      input.length > maxBytes ||
      (input.length * 3 > maxBytes && Buffer.byteLength(input, 'utf8') > maxBytes)
    ) {
      return {
        finding: finding('SPEC_FILE_TOO_LARGE', `the document is larger than the limit of ${maxBytes} bytes`),
      };
    }
    if (input.includes('\u0000'))
      return {
        finding: finding(
          'SPEC_BINARY',
          'the text contains NUL characters; it is not a YAML or JSON document',
        ),
      };
    return { text: input.charCodeAt(0) === 0xfeff ? input.slice(1) : input };
  }
  if (input.byteLength > maxBytes) {
    return {
      finding: finding(
        'SPEC_FILE_TOO_LARGE',
        `the file has ${input.byteLength} bytes, more than the limit of ${maxBytes}`,
      ),
    };
  }
  if (input.indexOf(0) !== -1) {
    const utf16 =
      input.length >= 2 &&
      ((input[0] === 0xff && input[1] === 0xfe) || (input[0] === 0xfe && input[1] === 0xff));
    return {
      finding: finding(
        'SPEC_BINARY',
        utf16
          ? 'the file is UTF-16 encoded; save it as UTF-8'
          : 'the file contains NUL bytes; it looks binary, not like a YAML or JSON document',
      ),
    };
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(input);
    return { text };
  } catch {
    return { finding: finding('SPEC_NOT_UTF8', 'the file is not valid UTF-8 text; save it as UTF-8') };
  }
}

/**
 * A quick linear scan that bounds nesting before the YAML parser sees the text (the parser and
 * `toJS` recurse, and some shapes, e.g. 10,000 compact `- - - ...`, exhaust it). Conservative: it
 * only refuses text whose lines start past column 1000 or whose flow collections nest deeper than 256.
 */
export function scanNesting(text: string): { line: number; reason: string } | undefined {
  const NL = 10,
    SP = 32,
    TAB = 9,
    DASH = 45,
    QM = 63,
    COLON = 58,
    HASH = 35,
    BS = 92;
  const DQ = 34,
    SQ = 39,
    LB = 91,
    RB = 93,
    LC = 123,
    RC = 125;
  let flow = 0;
  let quote = 0;
  let line = 1;
  let atLineStart = true;
  let column = 0;
  let last = 0; // last significant character on the line (0 = none)
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === NL) {
      line++;
      atLineStart = true;
      column = 0;
      last = 0;
      if (quote === SQ && flow === 0) quote = 0;
      continue;
    }
    if (quote) {
      if (c === BS && quote === DQ) i++;
      else if (c === quote) quote = 0;
      continue;
    }
    if (atLineStart) {
      if (c === SP) {
        if (++column > MAX_COLUMN) return { line, reason: `a line starts at column ${column}` };
        continue;
      }
      if (c === DASH || c === QM || c === COLON) {
        const next = text.charCodeAt(i + 1);
        if (next === SP || next === TAB) {
          column += 2;
          i++;
          last = c;
          if (column > MAX_COLUMN) return { line, reason: `a line starts at column ${column}` };
          continue;
        }
      }
      atLineStart = false;
    }
    if (c === HASH) {
      const prev = i === 0 ? NL : text.charCodeAt(i - 1);
      if (prev === SP || prev === TAB || prev === NL) {
        const eol = text.indexOf('\n', i);
        i = (eol === -1 ? n : eol) - 1;
        continue;
      }
    }
    if (flow > 0) {
      if (c === DQ || c === SQ) quote = c;
      else if (c === LB || c === LC) {
        if (++flow > MAX_FLOW_DEPTH)
          return { line, reason: `flow collections nest deeper than ${MAX_FLOW_DEPTH}` };
      } else if (c === RB || c === RC) flow--;
      continue;
    }
    if (c === LB || c === LC) {
      if (last === 0 || last === COLON || last === DASH || last === QM) flow = 1;
    } else if (c === DQ && (last === 0 || last === COLON || last === DASH)) {
      quote = c;
    }
    if (c !== SP && c !== TAB) last = c;
  }
  return undefined;
}

/** Depth of the node tree, walked iteratively (aliases are not followed). */
function nodeDepthExceeds(root: unknown, maxDepth: number): string[] | undefined {
  const stack: { node: unknown; depth: number; path: string[] }[] = [{ node: root, depth: 0, path: [] }];
  while (stack.length) {
    const { node, depth, path } = stack.pop()!;
    if (depth > maxDepth) return path;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        stack.push({ node: pair.value, depth: depth + 1, path: depth < 20 ? [...path, key] : path });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) =>
        stack.push({ node: item, depth: depth + 1, path: depth < 20 ? [...path, String(i)] : path }),
      );
    }
  }
  return undefined;
}

/** Anchors (`&a`) or aliases (`*a`) anywhere: such text takes the `yaml` path with its alias limit. */
const ANCHOR_OR_ALIAS = /(?:^|[\s[{,:-])[&*][^\s[\]{},]/m;

/** js-yaml with the YAML 1.2 core schema (no timestamps, no merge keys); fails on anything odd. */
export function fastLoad(text: string): { ok: true; data: unknown } | { ok: false } {
  if (ANCHOR_OR_ALIAS.test(text)) return { ok: false };
  try {
    const data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, json: false });
    return data === undefined || data === null ? { ok: false } : { ok: true, data };
  } catch {
    return { ok: false }; // multi-document, duplicate keys, syntax errors: `yaml` reports them
  }
}

/**
 * True when plain data from the fast path is deeper than `maxDepth`, or holds more containers
 * than `budget` (the text length): a tree cannot have more containers than its text has
 * characters, so more means shared references (aliases the anchor scan missed), and the guarded
 * `yaml` path must take over. Recursion is bounded by `maxDepth`.
 */
function unfitForFastPath(node: unknown, maxDepth: number, budget: { left: number }, depth = 0): boolean {
  if (typeof node !== 'object' || node === null) return false;
  if (depth > maxDepth || --budget.left < 0) return true;
  if (Array.isArray(node)) {
    for (const v of node)
      if (typeof v === 'object' && v !== null && unfitForFastPath(v, maxDepth, budget, depth + 1))
        return true;
  } else {
    for (const k in node) {
      const v = (node as Record<string, unknown>)[k];
      if (typeof v === 'object' && v !== null && unfitForFastPath(v, maxDepth, budget, depth + 1))
        return true;
    }
  }
  return false;
}

/** A ParsedSource whose position index is built on first use. */
function lazySource(text: string, data: unknown): ParsedSource {
  let state: { doc: Document.Parsed; lineCounter: LineCounter } | null | undefined;
  // Built on first use; null when the text is unfit for the position parser (then no positions).
  const get = () => {
    if (state === undefined) {
      state = null;
      if (!scanNesting(text)) {
        try {
          const lineCounter = new LineCounter();
          const doc = parseAllDocuments(text, parseOptions(lineCounter))[0] as Document.Parsed | undefined;
          if (doc) state = { doc, lineCounter };
        } catch {
          state = null;
        }
      }
    }
    return state;
  };
  return {
    data,
    documents: [data],
    findings: [],
    locate(pointer) {
      const st = get();
      if (!st) return undefined;
      const { node } = findNode(st.doc, pointer);
      const range = node?.range ?? (st.doc.contents as Node | null)?.range;
      if (!range) return undefined;
      const p = st.lineCounter.linePos(range[0]);
      return { line: p.line, column: p.col };
    },
    sourceText(pointer) {
      const st = get();
      if (!st) return undefined;
      const { node, exact } = findNode(st.doc, pointer);
      return exact && isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
    },
  };
}

function findNode(doc: Document, pointer: string): { node?: Node; keyNode?: Node; exact: boolean } {
  let node: unknown = doc.contents;
  let last: Node | undefined = (doc.contents as Node | null) ?? undefined;
  let keyNode: Node | undefined;
  for (const seg of fromPointer(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) === seg : String(p.key) === seg),
      );
      if (!pair) return { node: last, exact: false };
      keyNode = pair.key as Node;
      node = pair.value;
      if (node === null || node === undefined) return { node: keyNode, keyNode, exact: true };
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined || !/^\d+$/.test(seg)) return { node: last, exact: false };
      node = item;
      keyNode = undefined;
    } else {
      return { node: last, exact: false };
    }
    if (isAlias(node)) return { node: node as Node, exact: false };
    last = node as Node;
  }
  return { node: last, keyNode, exact: true };
}

/**
 * Parses YAML or JSON (JSON is read as YAML 1.2 flow, which keeps positions).
 *
 * @example
 * const src = parseSource('kind: ApplicationDeployment\n', { file: 'd.yaml' });
 * src.data; // { kind: 'ApplicationDeployment' }
 * src.locate('/kind'); // { line: 1, column: 7 }
 */
export function parseSource(input: string | Uint8Array, opts: SourceOptions = {}): ParsedSource {
  const decoded = decodeInput(input, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  if ('finding' in decoded) return failed([decoded.finding]);
  const text = decoded.text;
  if (text.trim() === '') return failed([finding('SPEC_EMPTY_DOCUMENT', 'the file is empty')]);

  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  // Fast path first; js-yaml fails (also with RangeError on absurd nesting) rather than crash,
  // and anything it cannot take goes through the guarded `yaml` path below.
  const fast = fastLoad(text);
  if (fast.ok) {
    let unfit = true;
    try {
      unfit = unfitForFastPath(fast.data, maxDepth, { left: text.length });
    } catch {
      // RangeError: deeper than the stack; the slow path reports it.
    }
    if (!unfit) return lazySource(text, fast.data);
  }
  const deep = scanNesting(text);
  if (deep)
    return failed([
      {
        ...finding('SPEC_TOO_DEEP', `the document is nested too deep: ${deep.reason}`),
        line: deep.line,
        column: 1,
      },
    ]);

  const lineCounter = new LineCounter();
  const pos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, parseOptions(lineCounter)) as Document.Parsed[];
    if (!Array.isArray(docs)) docs = [];
  } catch (e) {
    if (e instanceof RangeError)
      return failed([finding('SPEC_TOO_DEEP', 'the document is nested too deep to parse')]);
    return failed([finding('SPEC_YAML_SYNTAX', `the document cannot be parsed: ${(e as Error).message}`)]);
  }
  const findings: Finding[] = [];
  const real = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  if (real.length === 0)
    return failed([finding('SPEC_EMPTY_DOCUMENT', 'the file holds no document (only comments or `---`)')]);
  if (real.length > 1 && !opts.allowMultiDocument) {
    const second = real[1]!;
    const at = second.range ? pos(second.range[0]) : undefined;
    findings.push({
      ...finding(
        'SPEC_MULTI_DOCUMENT',
        `the file holds ${real.length} YAML documents; put each into its own file`,
      ),
      ...(at ? { line: at.line, column: at.column } : {}),
    });
  }
  const documents: unknown[] = [];
  for (const [index, doc] of real.entries()) {
    if (index > 0 && !opts.allowMultiDocument) break;
    let ok = true;
    for (const err of doc.errors) {
      ok = false;
      const at = pos(err.pos[0]);
      const code =
        err.code === 'DUPLICATE_KEY'
          ? 'SPEC_YAML_DUPLICATE_KEY'
          : err.code === 'RESOURCE_EXHAUSTION'
            ? 'SPEC_TOO_DEEP'
            : 'SPEC_YAML_SYNTAX';
      const message = err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
      findings.push({ ...finding(code, message), line: at.line, column: at.column });
    }
    if (!ok) {
      documents.push(undefined);
      continue;
    }
    const tooDeep = nodeDepthExceeds(doc.contents, maxDepth);
    if (tooDeep) {
      findings.push(
        finding(
          'SPEC_TOO_DEEP',
          `the document nests deeper than ${maxDepth} levels`,
          '/' + tooDeep.join('/'),
        ),
      );
      documents.push(undefined);
      continue;
    }
    try {
      documents.push(doc.toJS({ maxAliasCount: DEFAULT_MAX_ALIAS_COUNT }));
    } catch (e) {
      if (e instanceof ReferenceError) {
        findings.push(
          finding(
            'SPEC_YAML_ALIAS_LIMIT',
            `the document expands YAML aliases more than the limit of ${DEFAULT_MAX_ALIAS_COUNT} allows (possible "billion laughs" attack)`,
          ),
        );
      } else if (e instanceof RangeError) {
        findings.push(finding('SPEC_TOO_DEEP', 'the document is nested too deep to read'));
      } else {
        findings.push(finding('SPEC_YAML_SYNTAX', `the document cannot be read: ${(e as Error).message}`));
      }
      documents.push(undefined);
    }
  }
  const first = real[0]!;
  const locate = (pointer: string): Position | undefined => {
    const { node } = findNode(first, pointer);
    const range = node?.range ?? (first.contents as Node | null)?.range;
    return range ? pos(range[0]) : undefined;
  };
  const sourceText = (pointer: string): string | undefined => {
    const { node, exact } = findNode(first, pointer);
    if (!exact || !isScalar(node)) return undefined;
    return typeof node.source === 'string' ? node.source : undefined;
  };
  // Positions for findings made here without one.
  for (const f of findings) {
    if (f.line === undefined && f.path) {
      const at = locate(f.path);
      if (at) Object.assign(f, at);
    }
  }
  return { data: documents[0], documents, findings, locate, sourceText };
}
