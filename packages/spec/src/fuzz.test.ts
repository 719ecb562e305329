/**
 * Robustness: parseDocument never throws, whatever the bytes. Seeded mutations (byte flips,
 * truncation, duplication, bracket and indentation noise) of valid documents of every kind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from './parse-document.js';
import {
  baseApp,
  baseCapabilities,
  baseDeployment,
  baseManifest,
  baseStatus,
  yaml,
} from './test-fixtures.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NOISE = [
  '[',
  ']',
  '{',
  '}',
  ':',
  '- ',
  '&a ',
  '*a',
  '"',
  "'",
  '\n  ',
  '\t',
  '#',
  '---\n',
  '!!binary ',
  '? ',
  '|',
  '>',
  '\u0000',
  '\uFFFD',
  '\\',
];

function mutate(text: string, rand: () => number): string | Uint8Array {
  const pick = Math.floor(rand() * 6);
  const at = Math.floor(rand() * text.length);
  switch (pick) {
    case 0:
      return text.slice(0, at); // truncation
    case 1:
      return text.slice(0, at) + NOISE[Math.floor(rand() * NOISE.length)] + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 20));
    case 3: {
      const bytes = Buffer.from(text, 'utf8');
      for (let i = 0; i < 5; i++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      return bytes;
    }
    case 4:
      return text + text; // duplicate keys
    default:
      return text.replace(/\n/g, () => (rand() < 0.1 ? '\n' + ' '.repeat(Math.floor(rand() * 8)) : '\n'));
  }
}

test('parseDocument never throws on mutated documents', () => {
  const rand = rng(7);
  const seeds = [baseApp(), baseDeployment(), baseStatus(), baseCapabilities(), baseManifest()].flatMap(
    (d) => [yaml(d), JSON.stringify(d, null, 2)],
  );
  let withFindings = 0;
  for (let i = 0; i < 600; i++) {
    const input = mutate(seeds[i % seeds.length]!, rand);
    let r;
    try {
      r = parseDocument(input, { file: 'fuzz.yaml' });
    } catch (e) {
      assert.fail(`threw on case ${i}: ${(e as Error).stack}\n--- input ---\n${String(input).slice(0, 400)}`);
    }
    for (const f of r.findings) {
      assert.ok(f.code.startsWith('SPEC_'), f.code);
      assert.ok(f.message.length > 0);
      assert.equal(typeof f.path, 'string');
    }
    if (r.findings.length) withFindings++;
  }
  assert.ok(withFindings > 100, `mutations should produce findings (${withFindings})`);
});
