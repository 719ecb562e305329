import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildDeviceHold,
  holdFromValue,
  HOLD_NO_REASON,
  HOLD_REASON_MAX,
  parseDeviceHold,
  sanitiseHoldReason,
} from './device-hold.js';

describe('on-site hold documents', () => {
  it('sanitises the reason: controls, escapes and bidi overrides out, white space folded, trimmed', () => {
    assert.equal(sanitiseHoldReason('  line 3\n\trunning\u0007 batch 7  '), 'line 3 running batch 7');
    assert.equal(sanitiseHoldReason('\u001b[31mred\u001b[0m'), '[31mred [0m');
    assert.equal(sanitiseHoldReason('abc\u202edef\u2066'), 'abc def');
    assert.equal(sanitiseHoldReason('\u0000\u009f'), '');
    assert.equal(sanitiseHoldReason('Wartung Linie 3 – Förderband'), 'Wartung Linie 3 – Förderband');
  });

  it('bounds the reason to HOLD_REASON_MAX characters (code points, an ellipsis marks the cut)', () => {
    const long = '😀'.repeat(HOLD_REASON_MAX + 10);
    const cut = sanitiseHoldReason(long);
    assert.equal([...cut].length, HOLD_REASON_MAX);
    assert.ok(cut.endsWith('…'));
    assert.equal(sanitiseHoldReason('x'.repeat(HOLD_REASON_MAX)), 'x'.repeat(HOLD_REASON_MAX));
  });

  it('builds and parses hold.json; refuses other documents', () => {
    const text = buildDeviceHold({ reason: 'batch 7\n', since: '2026-12-03T04:00:00.000Z' });
    assert.equal(
      text,
      '{\n  "kind": "DeviceHold",\n  "reason": "batch 7",\n  "since": "2026-12-03T04:00:00.000Z"\n}\n',
    );
    assert.deepEqual(parseDeviceHold(Buffer.from(text)), {
      reason: 'batch 7',
      since: '2026-12-03T04:00:00.000Z',
    });
    assert.throws(() => parseDeviceHold('{"reason":"x"}'), /DeviceHold/);
    assert.throws(() => parseDeviceHold('{"kind":"DeviceHold","reason":7}'), /DeviceHold/);
    assert.throws(() => parseDeviceHold('not json'));
    assert.throws(() => parseDeviceHold(' '.repeat(17 * 1024)), /16 KiB/);
  });

  it('reads a hold from a value: a bad since is dropped, an empty reason says so', () => {
    assert.deepEqual(holdFromValue({ reason: ' ', since: 'yesterday' }), { reason: HOLD_NO_REASON });
    assert.equal(holdFromValue({ since: '2026-01-01T00:00:00Z' }), undefined);
    assert.equal(holdFromValue(['x']), undefined);
    assert.deepEqual(holdFromValue({ reason: 'r', since: '2026-01-01T00:00:00Z' }), {
      reason: 'r',
      since: '2026-01-01T00:00:00.000Z',
    });
  });
});
