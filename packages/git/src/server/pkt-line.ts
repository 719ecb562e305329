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
  let pos = 0;
  const commands: RefUpdateCommand[] = [];
  let capabilities: string[] = [];
  while (true) {
    if (buf.length < pos + 4) return { state: 'incomplete' };
    const lenText = buf.subarray(pos, pos + 4).toString('ascii');
    if (!/^[0-9a-f]{4}$/.test(lenText)) return { state: 'error', reason: 'malformed pkt-line' };
    const len = parseInt(lenText, 16);
    if (len === 0) return { state: 'done', commands, capabilities, pushCert: false };
    if (len < 4) return { state: 'error', reason: 'unexpected special pkt-line' };
    if (buf.length < pos + len) return { state: 'incomplete' };
    let line = buf.subarray(pos + 4, pos + len).toString('utf8');
    pos += len;
    if (line.endsWith('\n')) line = line.slice(0, -1);
    if (line.startsWith('shallow ')) continue;
    if (line.startsWith('push-cert')) return { state: 'done', commands, capabilities, pushCert: true };
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      capabilities = line
        .slice(nul + 1)
        .split(' ')
        .filter(Boolean);
      line = line.slice(0, nul);
    }
    const m = /^([0-9a-f]{40}) ([0-9a-f]{40}) (\S+)$/.exec(line);
    if (!m) return { state: 'error', reason: 'malformed ref update command' };
    commands.push({ old: m[1]!, new: m[2]!, ref: m[3]! });
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
