import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listenComposed } from './http-server.js';

describe('listenComposed', () => {
  it('answers 404 when the matching handler passes, instead of leaving the request hanging', async () => {
    const srv = await listenComposed(
      [
        { prefix: '/api/', name: 'passes', handle: async () => false },
        {
          prefix: '/api/v1/',
          name: 'answers',
          handle: (_req, res) => {
            res.writeHead(204);
            res.end();
          },
        },
      ],
      '127.0.0.1:0',
    );
    try {
      const passed = await fetch(`${srv.url}/api/other`, { signal: AbortSignal.timeout(5000) });
      assert.equal(passed.status, 404);
      assert.equal(((await passed.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
      assert.equal((await fetch(`${srv.url}/api/v1/x`, { signal: AbortSignal.timeout(5000) })).status, 204);
    } finally {
      await srv.close();
    }
  });
});
