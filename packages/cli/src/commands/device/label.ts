import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { devicePath, fromYaml, toYaml, type DeviceDoc } from '../../fleet-docs.js';
import { deviceDocProblems, refusal } from '../../fleet-checks.js';
import { commitChange } from '../../git-remote.js';
import { parseKeyValue } from '../../kv.js';
import { formatOutput, type OutputFormat } from '../../output.js';

export interface LabelOptions {
  id: string;
  /** `k=v` sets, `k-` removes. */
  labels: string[];
  output: OutputFormat;
}

/** Applies `k=v` / `k-` edits to a label map (pure). */
export function editLabels(labels: Record<string, string>, edits: readonly string[]): Record<string, string> {
  const out = { ...labels };
  for (const e of edits) {
    if (/^[^=]+-$/.test(e)) delete out[e.slice(0, -1)];
    else {
      const [k, v] = parseKeyValue(e, 'label');
      out[k] = v;
    }
  }
  return out;
}

/** `margo device label ID k=v [k2-]...`: one commit to devices/<id>.yaml. */
export async function run(opts: LabelOptions, deps: CommandDeps): Promise<number> {
  if (!opts.labels.length)
    throw new MargoError('USAGE_ERROR', 'no label given', {
      hint: 'Write `margo device label ID key=value` (or `key-` to remove one).',
    });
  const conn = await deps.connect();
  let labels: Record<string, string> = {};
  const res = await commitChange(
    conn,
    'fleet',
    `label device ${opts.id}: ${opts.labels.join(' ')}`,
    async (co) => {
      const file = join(co.dir, devicePath(opts.id));
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new MargoError('CLI_DEVICE_NOT_FOUND', `no device "${opts.id}" in the fleet repository`, {
          data: { id: opts.id },
        });
      }
      const doc = fromYaml<DeviceDoc>(text, devicePath(opts.id));
      doc.labels = editLabels(doc.labels ?? {}, opts.labels);
      labels = doc.labels;
      // A document the fleet parser refuses would leave the device out of the fleet.
      const bad = deviceDocProblems(doc);
      if (bad.length) throw refusal(`device ${opts.id}`, bad, { forcible: false })!;
      await writeFile(file, toYaml(doc));
    },
  );
  deps.io.out(
    formatOutput({ id: opts.id, labels, commit: res.commit ?? null }, opts.output, (r) =>
      r.commit
        ? `device ${r.id} labelled (commit ${r.commit.slice(0, 12)})\n`
        : `device ${r.id}: labels unchanged\n`,
    ),
  );
  return 0;
}
