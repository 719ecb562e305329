/**
 * An application's description (markdown, as its package publishes it) rendered to HTML for the
 * catalog page: `marked` parses, DOMPurify removes anything that could run script or load from
 * elsewhere, and links open without passing the console's address on. Headings start at h2.
 */
import DOMPurify from 'dompurify';
import { markdownToHtml } from './lib/markdown-html.js';

let hooked = false;

export function renderMarkdown(src: string): string {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.getAttribute('href')) {
        node.setAttribute('rel', 'noopener noreferrer nofollow');
        if (/^https?:/i.test(node.getAttribute('href') ?? '')) node.setAttribute('target', '_blank');
      }
      // Images from elsewhere would be refused by the CSP (img-src 'self' data:) anyway.
      if (node.tagName === 'IMG' && !/^(data:image\/|\/)/i.test(node.getAttribute('src') ?? '')) {
        node.removeAttribute('src');
      }
    });
    hooked = true;
  }
  const html = markdownToHtml(src);
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
    FORBID_ATTR: ['style'],
  });
}
