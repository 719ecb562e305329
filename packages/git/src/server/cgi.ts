import { spawn } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** How a CGI run ended without the program ever sending its header block. */
export interface CgiFailure {
  /** The program could not be started (e.g. not installed). */
  spawnError?: Error;
  exitCode?: number | null;
  /** Its standard error, at most 8 KiB. */
  stderr: string;
  /** The request body failed while being piped in (e.g. corrupt gzip). */
  bodyFailed: boolean;
}

export interface CgiRun {
  env: NodeJS.ProcessEnv;
  res: ServerResponse;
  /** Piped to the program's standard input; none: its input is closed at once. */
  body?: Readable | undefined;
  /** The program ended (or never started) before its headers: answer the client. */
  failed(f: CgiFailure): void;
  /** The program answered and exited: end the response (after whatever must come first). */
  finished(): void;
}

/**
 * Runs a CGI program (`git http-backend`) and relays its answer: the header block (with `Status:`)
 * becomes the response head, the rest is streamed with backpressure. A client going away stops the
 * program, and so does a failing request body. Resolves once the program has exited.
 */
export function runCgi(command: string, args: string[], run: CgiRun): Promise<void> {
  const { res, body } = run;
  return new Promise<void>((resolve) => {
    const child = spawn(command, args, { env: run.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let bodyFailed = false;
    let headerBuf: Buffer | undefined = Buffer.alloc(0);
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      if (!res.headersSent) run.failed({ spawnError: e, stderr, bodyFailed });
      resolve();
    });
    child.stdout.on('data', (d: Buffer) => {
      if (headerBuf === undefined) {
        if (!res.write(d)) {
          child.stdout.pause();
          res.once('drain', () => child.stdout.resume());
        }
        return;
      }
      headerBuf = Buffer.concat([headerBuf, d]);
      let end = headerBuf.indexOf('\r\n\r\n');
      let sepLen = 4;
      if (end < 0) {
        end = headerBuf.indexOf('\n\n');
        sepLen = 2;
      }
      if (end < 0) return;
      const head = headerBuf.subarray(0, end).toString('latin1');
      const rest = headerBuf.subarray(end + sepLen);
      headerBuf = undefined;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10) || 500;
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      if (rest.length) res.write(rest);
    });
    child.on('close', (code) => {
      if (headerBuf !== undefined && !res.headersSent) run.failed({ exitCode: code, stderr, bodyFailed });
      else run.finished();
      resolve();
    });
    // A client that goes away mid-request must not leave the program waiting for input forever.
    res.once('close', () => {
      if (child.exitCode === null && child.signalCode === null && !res.writableFinished)
        child.kill('SIGTERM');
    });
    if (body) {
      body.once('error', () => {
        bodyFailed = true;
        child.kill('SIGTERM');
      });
      body.pipe(child.stdin);
    } else child.stdin.end();
  });
}
