/** Git pkt-line framing (protocol v0/v1): 4 hex digits of length (including themselves) + payload; `0000` = flush. */

export function pktLine(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'ascii'), body]);
}

export const FLUSH = Buffer.from('0000', 'ascii');

export interface RefUpdateCommand {
  old: string;
  new: string;
  ref: string;
}

export type CommandListParse =
  | { state: 'incomplete' }
  | { state: 'error'; reason: string }
  | { state: 'done'; commands: RefUpdateCommand[]; capabilities: string[]; pushCert: boolean };

/**
 * Parses the command list at the start of a receive-pack request body (`[shallow lines] old new
 * ref\0caps ... flush`). Returns `incomplete` while the flush has not arrived.
 */
export function parseCommandList(buf: Buffer): CommandListParse {
  const p = new CommandListParser(Number.MAX_SAFE_INTEGER);
  p.push(buf);
  return p.result();
}

/**
 * The command list parsed chunk by chunk as it arrives. Chunks are only collected until the
 * pkt-line they belong to is complete (its length is known from its first 4 bytes), so each byte
 * is copied and looked at a bounded number of times: a client trickling a huge list without flush
 * costs linear time (re-concatenating and re-parsing from the start on every chunk was quadratic
 * and stalled the event loop). Past `maxBytes` the parse ends in `too-large`.
 */
export class CommandListParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private consumed = 0;
  private readonly commands: RefUpdateCommand[] = [];
  private capabilities: string[] = [];
  private state: CommandListParse | { state: 'too-large' } = { state: 'incomplete' };
  constructor(readonly maxBytes: number) {}

  /** Feeds the next chunk; returns the state after it. */
  push(chunk: Buffer): CommandListParse | { state: 'too-large' } {
    if (this.state.state !== 'incomplete') return this.state;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.state.state === 'incomplete') {
      const head = this.peek(4);
      if (!head) break;
      const lenText = head.toString('ascii');
      if (!/^[0-9a-f]{4}$/.test(lenText))
        return (this.state = { state: 'error', reason: 'malformed pkt-line' });
      const len = parseInt(lenText, 16);
      if (len === 0) {
        this.take(4);
        this.state = this.done(false);
        break;
      }
      if (len < 4) return (this.state = { state: 'error', reason: 'unexpected special pkt-line' });
      if (this.consumed + len > this.maxBytes) return (this.state = { state: 'too-large' });
      if (this.buffered < len) break;
      this.parseLine(this.take(len).subarray(4));
    }
    return this.state;
  }

  /** The parse so far (`incomplete` until the flush; too large is an error). */
  result(): CommandListParse {
    if (this.state.state === 'too-large') return { state: 'error', reason: 'ref update list too large' };
    return this.state;
  }

  private parseLine(payload: Buffer): void {
    let line = payload.toString('utf8');
    if (line.endsWith('\n')) line = line.slice(0, -1);
    if (line.startsWith('shallow ')) return;
    if (line.startsWith('push-cert')) {
      this.state = this.done(true);
      return;
    }
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      this.capabilities = line
        .slice(nul + 1)
        .split(' ')
        .filter(Boolean);
      line = line.slice(0, nul);
    }
    const m = /^([0-9a-f]{40}) ([0-9a-f]{40}) (\S+)$/.exec(line);
    if (!m) this.state = { state: 'error', reason: 'malformed ref update command' };
    else this.commands.push({ old: m[1]!, new: m[2]!, ref: m[3]! });
  }

  private done(pushCert: boolean): CommandListParse {
    return { state: 'done', commands: this.commands, capabilities: this.capabilities, pushCert };
  }

  /** The first `n` buffered bytes (joining chunks only once they are all there), or undefined. */
  private peek(n: number): Buffer | undefined {
    if (this.buffered < n) return undefined;
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const out = this.peek(n) ?? Buffer.alloc(0);
    const first = this.chunks[0];
    if (first) {
      const left = first.subarray(out.length);
      if (left.length) this.chunks[0] = left;
      else this.chunks.shift();
    }
    this.buffered -= out.length;
    this.consumed += out.length;
    return out;
  }
}

/**
 * A receive-pack result that refuses every command with `message` (`unpack ok` + `ng <ref> <msg>`),
 * wrapped in side-band 1 when the client asked for side-band(-64k), with `message` also on band 2
 * so stock git prints it as `remote: ...`.
 */
export function refusalReport(commands: RefUpdateCommand[], capabilities: string[], message: string): Buffer {
  const oneLine = message.replace(/[\r\n]+/g, ' ');
  const report = Buffer.concat([
    pktLine('unpack ok\n'),
    ...commands.map((c) => pktLine(`ng ${c.ref} ${oneLine}\n`)),
    FLUSH,
  ]);
  const sideband = capabilities.includes('side-band-64k') || capabilities.includes('side-band');
  if (!sideband) return report;
  const max = capabilities.includes('side-band-64k') ? 65515 : 995;
  const parts: Buffer[] = [];
  parts.push(pktLine(Buffer.concat([Buffer.from([2]), Buffer.from(`${message}\n`, 'utf8')])));
  for (let i = 0; i < report.length; i += max)
    parts.push(pktLine(Buffer.concat([Buffer.from([1]), report.subarray(i, i + max)])));
  parts.push(FLUSH);
  return Buffer.concat(parts);
}
