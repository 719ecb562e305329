import type { CommandDeps } from './context.js';
import type { OutputFormat } from './output.js';

/**
 * `--watch`: draws `render()` every `interval` seconds until the process is asked to stop, and
 * prints only when the text changed. On a terminal with the table format each drawing replaces
 * the screen (with the time on top); otherwise drawings follow each other. A failing `render`
 * shows `<what> unavailable: <message>` and the loop carries on.
 */
export async function redrawUntilStopped(
  deps: Pick<CommandDeps, 'io' | 'untilStopped'>,
  opts: { output: OutputFormat; interval?: number; what: string },
  render: () => Promise<string>,
): Promise<void> {
  let stop = false;
  void deps.untilStopped().then(() => (stop = true));
  let last = '';
  while (!stop) {
    let text: string;
    try {
      text = await render();
    } catch (e) {
      text = `${opts.what} unavailable: ${(e as Error).message}\n`;
    }
    if (text !== last) {
      if (deps.io.outIsTTY && opts.output === 'table')
        deps.io.out('\u001b[H\u001b[2J' + `${new Date().toISOString()}  (Ctrl-C to stop)\n` + text);
      else deps.io.out(text);
      last = text;
    }
    const until = Date.now() + (opts.interval ?? 2) * 1000;
    while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  }
}
