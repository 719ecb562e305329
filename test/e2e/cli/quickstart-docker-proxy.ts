// A byte-for-byte proxy in front of the Docker engine's API socket that notes what its clients ask
// for: the request lines, the images of created containers, and whether any request names one of
// the testbed's registries. The quickstart test points DOCKER_HOST at it to show that installing
// hello-world pulls nothing and touches no testbed registry. Bytes are forwarded unchanged, so
// streamed and hijacked connections work as without it.
import { createConnection, createServer, type Socket } from 'node:net';

export interface DockerApiProxy {
  /** unix:// address to put in DOCKER_HOST. */
  dockerHost: string;
  /** `METHOD /path` of every request seen (API version prefix kept). */
  requests: Set<string>;
  /** `Image` of every container-create request body. */
  images: Set<string>;
  /** Registry-looking references seen anywhere in the request stream (matched by `watch`). */
  watched: Set<string>;
  close(): Promise<void>;
}

/** Starts the proxy on `socketPath`, forwarding to the engine socket `upstream` (a path). */
export function dockerApiProxy(upstream: string, socketPath: string, watch: RegExp): Promise<DockerApiProxy> {
  const requests = new Set<string>();
  const images = new Set<string>();
  const watched = new Set<string>();
  const sockets = new Set<Socket>();
  const global = new RegExp(watch.source, watch.flags.includes('g') ? watch.flags : watch.flags + 'g');
  const server = createServer((client) => {
    const engine = createConnection(upstream);
    sockets.add(client).add(engine);
    // A request line or body may be split across chunks: scan each chunk with the tail of the last.
    let tail = '';
    client.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      for (const m of text.matchAll(/(GET|HEAD|POST|PUT|DELETE) (\/\S*) HTTP\/1\.[01]\r\n/g))
        requests.add(`${m[1]} ${m[2]}`);
      for (const m of text.matchAll(/"Image"\s*:\s*"([^"]+)"/g)) images.add(m[1]!);
      for (const m of text.matchAll(global)) watched.add(m[0]);
      tail = text.slice(-4096);
    });
    client.pipe(engine);
    engine.pipe(client);
    const drop = () => {
      client.destroy();
      engine.destroy();
      sockets.delete(client);
      sockets.delete(engine);
    };
    client.on('error', drop).on('close', drop);
    engine.on('error', drop).on('close', drop);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () =>
      resolve({
        dockerHost: `unix://${socketPath}`,
        requests,
        images,
        watched,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      }),
    );
  });
}
