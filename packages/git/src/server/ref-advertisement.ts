import { readAllRefs, readHeadTarget } from '../refs-fs.js';
import { FLUSH, pktLine } from './pkt-line.js';

const UPLOAD_PACK_CAPS =
  'multi_ack thin-pack side-band side-band-64k ofs-delta shallow deepen-since deepen-not deepen-relative no-progress include-tag multi_ack_detailed no-done';

/**
 * The protocol v0/v1 `info/refs?service=git-upload-pack` answer, built from the refs on disk
 * without starting a git process (the cost of every up-to-date device poll). Returns undefined
 * when it cannot be done exactly (an unpeeled loose tag), so the caller falls back to git.
 */
export async function uploadPackAdvertisement(gitdir: string, agent: string): Promise<Buffer | undefined> {
  const { refs, peeled } = await readAllRefs(gitdir);
  for (const name of refs.keys()) if (name.startsWith('refs/tags/') && !peeled.has(name)) return undefined;
  const target = await readHeadTarget(gitdir);
  const headOid = target ? refs.get(target) : undefined;
  const caps = `${UPLOAD_PACK_CAPS}${target ? ` symref=HEAD:${target}` : ''} object-format=sha1 agent=${agent}`;
  const lines: Buffer[] = [pktLine('# service=git-upload-pack\n'), FLUSH];
  let first = true;
  const add = (oid: string, name: string): void => {
    lines.push(pktLine(first ? `${oid} ${name}\0${caps}\n` : `${oid} ${name}\n`));
    first = false;
  };
  if (headOid) add(headOid, 'HEAD');
  for (const [name, oid] of refs) {
    add(oid, name);
    const p = peeled.get(name);
    if (p) add(p, `${name}^{}`);
  }
  lines.push(FLUSH);
  return Buffer.concat(lines);
}
