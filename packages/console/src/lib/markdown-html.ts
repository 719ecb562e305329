/**
 * Markdown to HTML (not yet sanitised: markdown.ts runs DOMPurify on the result in the browser).
 * The page's own h1 is the application's name: the description's headings start one level lower
 * (h1 -> h2 ... h6 stays h6), so the page keeps one h1 and an unbroken outline.
 */
import { Marked } from 'marked';

const marked = new Marked({
  gfm: true,
  async: false,
  walkTokens(token) {
    if (token.type === 'heading') token.depth = Math.min(6, token.depth + 1);
  },
});

/**
 * @example
 * markdownToHtml('# Hello'); // '<h2>Hello</h2>\n'
 */
export function markdownToHtml(src: string): string {
  return marked.parse(src, { async: false });
}
