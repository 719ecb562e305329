import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownToHtml } from './markdown-html.js';

test('markdown headings start at h2 (the page has its own h1); h6 stays h6', () => {
  assert.equal(markdownToHtml('# Hello world'), '<h2>Hello world</h2>\n');
  assert.equal(markdownToHtml('## Run'), '<h3>Run</h3>\n');
  assert.equal(markdownToHtml('###### Deep'), '<h6>Deep</h6>\n');
  assert.match(markdownToHtml('Setting\n===='), /^<h2>Setting<\/h2>/);
});

test('GitHub-flavoured markdown: tables and fenced code', () => {
  const html = markdownToHtml('| a | b |\n|---|---|\n| 1 | 2 |\n\n```yaml\nx: 1\n```\n');
  assert.match(html, /<table>/);
  assert.match(html, /<code class="language-yaml">x: 1/);
});
