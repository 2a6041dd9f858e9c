// Limits on hostile and broken clients: header size, URL length, body size, connections,
// idle and request timeouts (slow senders), per-IP connections, the per-token rate limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    assertApiError,
    createStore,
    makeClient,
    ms,
    NEEDS_SPAWN,
    randomToken,
    recordPath,
    request,
    runKvs,
    startServer,
} from '../lib/server.mjs';
import { rawExchange, rawHeader, rawJson } from '../lib/raw.mjs';

const sleep = (n) => new Promise((resolve) => setTimeout(resolve, n));

const T = { timeout: ms(60_000), skip: NEEDS_SPAWN };

describe('size limits (default server)', T, () => {
    let server;
    let store;
    before(async () => {
        server = await startServer({ args: ['--max-record-size', '1K'] });
        ({ store } = await createStore(makeClient(server), 'limits'));
    });
    after(async () => server?.stop());

    test('request headers over the connection memory get 431 and the connection is closed', async () => {
        const res = await rawExchange(server, `GET /health HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
        assert.equal(res.status, 431, res.text.slice(0, 200));
        assert.match(rawHeader(res.text, 'connection') || '', /close/i);
        assert.ok(res.closed, 'connection closed after 431');
    });

    test('many small headers adding up to too much also get 431', async () => {
        const hdrs = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('');
        const res = await rawExchange(server, `GET /health HTTP/1.1\r\nHost: a\r\n${hdrs}\r\n`);
        assert.equal(res.status, 431);
    });

    test('headers of a few KiB are fine', async () => {
        const res = await request(server, { path: '/health', headers: { 'X-Some': 'y'.repeat(4000) } });
        assert.equal(res.status, 200);
    });

    test('a request target over the connection memory gets 414', async () => {
        const res = await rawExchange(server, `GET /health?a=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
        assert.equal(res.status, 414, res.text.slice(0, 200));
        assert.ok(res.closed);
    });

    test('a long but fitting target is routed and answered in JSON', async () => {
        const res = await request(server, { path: `/v2/key-value-stores/${'a'.repeat(6000)}` });
        assertApiError(res, 404, 'record-not-found');
    });

    test('a body announced over the record limit gets 413 before any byte is sent (Expect: 100-continue)', async () => {
        // headers only: the server must answer without waiting for the 2 KiB body
        const res = await rawExchange(
            server,
            `PUT ${recordPath(store.id, 'big')} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${server.token}\r\n` +
                'Content-Type: text/plain\r\nContent-Length: 2048\r\nExpect: 100-continue\r\n\r\n',
            { untilResponse: true, timeoutMs: 3000 },
        );
        assert.equal(res.status, 413);
        assert.equal(rawJson(res.text).error.type, 'request-too-large');
        const get = await request(server, { path: recordPath(store.id, 'big') });
        assert.equal(get.status, 404, 'nothing stored');
    });

    test('a chunked body growing past the limit gets 413', async () => {
        const res = await request(server, {
            method: 'PUT',
            path: recordPath(store.id, 'big2'),
            headers: { 'Content-Type': 'text/plain' },
            body: Buffer.alloc(4096, 0x61),
            chunked: true,
            chunkSize: 512,
        });
        assertApiError(res, 413, 'request-too-large');
    });
});

describe('connections and timeouts', T, () => {
    test('--max-connections: connections past the limit wait in the backlog until a slot frees', async () => {
        // one thread: MHD divides the limit between the threads of its pool
        const server = await startServer({ args: ['--max-connections', '3', '--timeout', '10', '--threads', '1'] });
        try {
            // hold the three slots with half-sent requests for 2 s
            const holders = [0, 1, 2].map(() => rawExchange(server, 'GET /health HTTP/1.1\r\n', { timeoutMs: 2000 }));
            await sleep(300);
            // MHD stops accepting at the limit: the fourth is not served while the others hold
            const extra = await rawExchange(server, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n', {
                untilResponse: true,
                timeoutMs: 6000,
            });
            await Promise.all(holders);
            assert.equal(extra.status, 200, 'served once a slot is free');
            assert.ok(extra.ms >= 1400, `not before the holders left (${extra.ms} ms)`);
        } finally {
            await server.stop();
        }
    });

    test('--max-connections-per-ip: one address cannot take every connection', async () => {
        const server = await startServer({ args: ['--max-connections-per-ip', '2'] });
        try {
            const holders = [0, 1].map(() => rawExchange(server, 'GET /health HTTP/1.1\r\n', { timeoutMs: 2500 }));
            await sleep(300);
            const extra = await rawExchange(server, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n', { timeoutMs: 2000 });
            assert.equal(extra.status, 0);
            assert.ok(extra.closed && extra.ms < 1500);
            await Promise.all(holders);
        } finally {
            await server.stop();
        }
    });

    test('--timeout: an idle connection is closed', async () => {
        const server = await startServer({ args: ['--timeout', '1'] });
        try {
            const res = await rawExchange(server, [], { timeoutMs: 5000 });
            assert.ok(res.closed, 'closed by the server');
            assert.ok(res.ms >= 800 && res.ms < 4000, `after about 1 s (${res.ms} ms)`);
            // a half-sent request line is idle too
            const half = await rawExchange(server, 'GET /hea', { timeoutMs: 5000 });
            assert.ok(half.closed && half.ms < 4000, `half request closed (${half.ms} ms)`);
        } finally {
            await server.stop();
        }
    });

    test('--request-timeout: a body trickled in below the idle timeout is cut', async () => {
        const server = await startServer({ args: ['--timeout', '5', '--request-timeout', '1'] });
        try {
            const { store } = await createStore(makeClient(server), 'slow');
            const head =
                `PUT ${recordPath(store.id, 'slow')} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${server.token}\r\n` +
                'Content-Type: text/plain\r\nContent-Length: 40\r\n\r\n';
            const chunks = [head, ...Array.from({ length: 20 }, () => 'xx')]; // 2 bytes every 300 ms
            const res = await rawExchange(server, chunks, { delayMs: 300, timeoutMs: 8000 });
            // MHD 0.9.75 cannot send a response while a body is arriving: the connection is closed
            assert.equal(res.status, 0, res.text.slice(0, 200));
            assert.ok(res.closed, 'closed by the server');
            assert.ok(res.ms >= 900 && res.ms < 4000, `cut after about 1 s, not after the whole body (${res.ms} ms)`);
            const get = await request(server, { path: recordPath(store.id, 'slow') });
            assert.equal(get.status, 404, 'nothing stored');
            // a body sent promptly is unaffected
            const put = await request(server, {
                method: 'PUT',
                path: recordPath(store.id, 'fast'),
                headers: { 'Content-Type': 'text/plain' },
                body: 'x'.repeat(40),
            });
            assert.equal(put.status, 201);
        } finally {
            await server.stop();
        }
    });
});

test('trickled headers are bounded by the idle timeout only (documented limit; see README)', T, async () => {
    const server = await startServer({ args: ['--timeout', '2', '--request-timeout', '1'] });
    try {
        // one header byte a second: never idle for 2 s, so still served after 4 s
        const parts = ['GET /health HTTP/1.1\r\nHost: a\r\n', 'X', '-', 'A', ':', ' 1\r\n\r\n'];
        const res = await rawExchange(server, parts, { delayMs: 900, timeoutMs: 8000, untilResponse: true });
        assert.equal(res.status, 200);
        assert.ok(res.ms >= 3500, `${res.ms} ms`);
        // a gap longer than the idle timeout is cut
        const gap = await rawExchange(server, ['GET /health HTTP/1.1\r\n', 'Host: a\r\n\r\n'], {
            delayMs: 3500,
            timeoutMs: 8000,
            untilResponse: true,
        });
        assert.equal(gap.status, 0);
        assert.ok(gap.closed && gap.ms < 3500, `${gap.ms} ms`);
    } finally {
        await server.stop();
    }
});

describe('--rate-limit', T, () => {
    test('off by default: a burst of requests all succeed', async () => {
        const server = await startServer();
        try {
            const all = await Promise.all(Array.from({ length: 50 }, () => request(server, { path: '/v2/key-value-stores' })));
            assert.deepEqual([...new Set(all.map((r) => r.status))], [200]);
        } finally {
            await server.stop();
        }
    });

    test('per token: past the burst 429 rate-limit-exceeded with Retry-After; others unaffected; refills', async () => {
        const server = await startServer({ args: ['--rate-limit', '5'] });
        try {
            const statuses = [];
            let refused;
            for (let i = 0; i < 8; i++) {
                const res = await request(server, { path: '/v2/key-value-stores' });
                statuses.push(res.status);
                if (res.status === 429) refused = res;
            }
            assert.ok(statuses.filter((s) => s === 200).length >= 5, `burst of 5 allowed: ${statuses}`);
            assert.ok(refused, `some refused: ${statuses}`);
            assertApiError(refused, 429, 'rate-limit-exceeded');
            assert.match(refused.headers['retry-after'] || '', /^[1-9]\d*$/);
            // another caller (anonymous, by IP) has a bucket of its own
            const anon = await request(server, { path: '/v2/key-value-stores', token: false });
            assertApiError(anon, 401, 'token-not-provided');
            // a refused write leaves nothing, and its body is not needed
            const other = randomToken();
            for (let i = 0; i < 5; i++) await request(server, { path: '/health', token: other });
            const put = await request(server, {
                method: 'PUT',
                path: recordPath('whatever1234567890', 'k'),
                token: other,
                headers: { 'Content-Type': 'text/plain' },
                body: 'x',
            });
            assertApiError(put, 429, 'rate-limit-exceeded');
            await sleep(1200);
            const again = await request(server, { path: '/v2/key-value-stores' });
            assert.equal(again.status, 200, 'refilled after a second');
        } finally {
            await server.stop();
        }
    });

    test('the option is checked', async () => {
        const res = await runKvs(['serve', '--rate-limit', 'lots']);
        assert.equal(res.code, 2);
        assert.match(res.stderr, /--rate-limit/);
    });
});
