import YAML from 'yaml';
import { MargoError } from '@margo-gitops/spec';
import { visibleLength } from './colour.js';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml'];

export interface Column<R> {
  header: string;
  get(row: R): string | number | boolean | undefined | null;
}

/** Checks a `-o` value. */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  const v = (value ?? 'table').toLowerCase();
  if ((OUTPUT_FORMATS as readonly string[]).includes(v)) return v as OutputFormat;
  throw new MargoError('USAGE_ERROR', `unknown output format "${value}" (from -o/--output)`, {
    hint: `Use one of: ${OUTPUT_FORMATS.join(', ')}.`,
  });
}

/** Renders rows as an aligned text table (header in capitals, two spaces between columns). */
export function renderTable<R>(
  rows: readonly R[],
  columns: readonly Column<R>[],
  opts: { empty?: string } = {},
): string {
  if (rows.length === 0) return opts.empty !== undefined ? `${opts.empty}\n` : '';
  const cells = rows.map((r) => columns.map((c) => cellText(c.get(r))));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((row) => visibleLength(row[i] ?? ''))),
  );
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (i === vals.length - 1 ? v : v + ' '.repeat((widths[i] ?? 0) - visibleLength(v))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

function cellText(v: string | number | boolean | undefined | null): string {
  if (v === undefined || v === null || v === '') return '-';
  return String(v);
}

/**
 * Renders `data` in the chosen format. json and yaml print the data as is (a stable, scriptable
 * shape); table calls `table(data)` for the human view.
 *
 * @example
 * io.out(formatOutput(devices, 'json', (d) => renderTable(d, cols)));
 */
export function formatOutput<T>(data: T, format: OutputFormat, table: (data: T) => string): string {
  switch (format) {
    case 'json':
      return JSON.stringify(data, null, 2) + '\n';
    case 'yaml':
      return YAML.stringify(data, { lineWidth: 0 });
    case 'table':
      return table(data);
  }
}

/** Renders key/value pairs as aligned `Key:  value` lines (for `show` commands). */
export function renderFields(fields: [string, string | number | boolean | undefined | null][]): string {
  const w = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${(k + ':').padEnd(w)}  ${cellText(v)}`).join('\n') + '\n';
}
