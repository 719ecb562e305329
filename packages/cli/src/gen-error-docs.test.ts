import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { allCodes } from '@margo-gitops/spec';
import { ERROR_DOC_PATH, renderErrorCodesDoc } from './gen-error-docs.js';

describe('docs/error-codes.md', () => {
  it('is up to date with the code registry (regenerate: node --conditions=source --import tsx packages/cli/src/gen-error-docs.ts)', async () => {
    const onDisk = await readFile(ERROR_DOC_PATH, 'utf8').catch(() => '(missing)');
    assert.ok(
      onDisk === renderErrorCodesDoc(),
      'docs/error-codes.md is stale: run node --conditions=source --import tsx packages/cli/src/gen-error-docs.ts',
    );
  });

  it('documents every code with its summary', () => {
    const doc = renderErrorCodesDoc();
    for (const { code, info } of allCodes()) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\|`), code);
      assert.ok(info.summary.length > 0, `${code} has no summary`);
    }
  });

  it('escapes table pipes', () => {
    assert.match(renderErrorCodesDoc([{ code: 'X_Y', area: 'cli', info: { summary: 'a | b' } }]), /a \\\| b/);
  });
});
