import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allCodes, MargoError } from '@margo-gitops/spec';
import { exitCodeFor, ExitCode, reportError } from './exit-codes.js';
import { memoryIo } from './io.js';

describe('exit codes', () => {
  const table: [string, number][] = [
    ['USAGE_ERROR', 2],
    ['CLI_NO_SERVER', 2],
    ['CLI_DEVICE_NOT_FOUND', 3],
    ['GIT_REF_NOT_FOUND', 3],
    ['CLI_AUTH_FAILED', 4],
    ['GIT_AUTH_FAILED', 4],
    ['TRUST_DEVICE_REVOKED', 4],
    ['CLI_DATA_DIR_EXISTS', 5],
    ['CLI_DEVICE_EXISTS', 5],
    ['GIT_CAS_CONFLICT', 5],
    ['CLI_PUSH_CONFLICT', 5],
    ['INTERNAL_ERROR', 10],
    ['CLI_PUBLISH_REJECTED', 1],
    ['IO_ERROR', 1],
    // Refused before writing, as the orchestrator would refuse it (fleet-checks.ts).
    ['ORCH_APP_NOT_FOUND', 1],
    ['ORCH_VERSION_NOT_FOUND', 1],
    ['ORCH_PARAMETER_UNKNOWN', 1],
    ['ORCH_FLEET_UNKNOWN_DEPENDENCY', 1],
    ['ORCH_DEVICE_NOT_REGISTERED', 1],
    ['CLI_SELECTOR_MATCHES_NONE', 1],
  ];
  for (const [code, exit] of table) it(`${code} -> ${exit}`, () => assert.equal(exitCodeFor(code), exit));

  it('every registered code maps to a documented exit code', () => {
    const documented = new Set<number>(Object.values(ExitCode));
    for (const { code } of allCodes()) assert.ok(documented.has(exitCodeFor(code)), code);
  });

  it('prints `error CODE: message` and the hint, without colour when off', () => {
    const io = memoryIo();
    const exit = reportError(new MargoError('CLI_APP_NOT_FOUND', 'no application "x" in the catalog'), io);
    assert.equal(exit, 3);
    assert.equal(
      io.stderr(),
      'error CLI_APP_NOT_FOUND: no application "x" in the catalog\nhint: List what is published with `margo app list`.\n',
    );
  });

  it('colours only when allowed', () => {
    const io = memoryIo({ color: true });
    reportError(new MargoError('USAGE_ERROR', 'bad'), io);
    assert.match(io.stderr(), /\u001b\[31m/);
  });

  it('stack traces only with debug', () => {
    const io = memoryIo();
    assert.equal(reportError(new Error('boom'), io), 10);
    assert.doesNotMatch(io.stderr(), /at /);
    const io2 = memoryIo();
    reportError(new Error('boom'), io2, { debug: true });
    assert.match(io2.stderr(), /exit-codes\.test\.ts/);
  });
});
