import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseApplicationDescription } from '@margo-gitops/spec';
import { checkSecretValues, parseSecretSources } from './secret-values.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('secret flags', () => {
  it('NAME=VALUE, NAME=- (stdin) and --secret-file NAME=PATH', () => {
    assert.deepEqual(parseSecretSources(['A=x=y', 'B=-'], ['C=/run/c']), [
      { name: 'A', from: 'argv', value: 'x=y' },
      { name: 'B', from: 'stdin' },
      { name: 'C', from: 'file', path: '/run/c' },
    ]);
  });

  it('refuses a name given twice, two stdin secrets, and never echoes a malformed argument', () => {
    assert.equal(
      codeOf(() => parseSecretSources(['A=1'], ['A=f'])),
      'USAGE_ERROR',
    );
    assert.equal(
      codeOf(() => parseSecretSources(['A=-', 'B=-'], [])),
      'USAGE_ERROR',
    );
    assert.equal(
      codeOf(() => parseSecretSources([], ['A='])),
      'USAGE_ERROR',
    );
    try {
      parseSecretSources(['s3cr3t-without-name'], []);
      assert.fail('accepted');
    } catch (e) {
      assert.doesNotMatch(`${(e as Error).message} ${(e as { hint?: string }).hint}`, /s3cr3t/);
    }
  });

  it('checks values against the schema rule without showing them', () => {
    const app = normaliseApplicationDescription({
      apiVersion: 'margo.org/v1-alpha1',
      kind: 'ApplicationDescription',
      metadata: { id: 'a', name: 'a', version: '1' },
      parameters: { PIN: { value: '0000', targets: [{ pointer: 'ENV.PIN', components: ['c'] }] } },
      configuration: {
        sections: [{ name: 's', settings: [{ parameter: 'PIN', name: 'Pin', schema: 'pin' }] }],
        schema: [{ name: 'pin', dataType: 'string', regexMatch: '^[0-9]{4}$' }],
      },
    });
    checkSecretValues(app, { PIN: '1234' });
    try {
      checkSecretValues(app, { PIN: 'letmein' });
      assert.fail('accepted');
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'ORCH_PARAMETER_INVALID');
      assert.doesNotMatch((e as Error).message, /letmein/);
    }
    assert.equal(
      codeOf(() => checkSecretValues(app, { OTHER: 'x' })),
      'ORCH_PARAMETER_UNKNOWN',
    );
  });
});
