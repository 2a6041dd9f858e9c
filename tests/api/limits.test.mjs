// Limits on hostile and broken clients: header size, URL length, body size, connections,
// idle and request timeouts (slow senders), per-IP connections, the per-token rate limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

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

// A connection the server has accepted and answered once, then held open (keep-alive): it
// counts against the connection limits for sure, however late a loaded server accepts.
function heldConnection(server) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(server.port, '127.0.0.1');
        let head = '';
        sock.on('error', reject);
        sock.on('data', (d) => {
            head += d.toString('latin1');
            if (head.includes('\r\n\r\n')) {
                sock.removeAllListeners('data');
                sock.on('data', () => {});
                assert.match(head, /^HTTP\/1\.1 200/);
                resolve(sock);
            }
        });
        sock.write('GET /health HTTP/1.1\r\nHost: a\r\n\r\n');
    });
}

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
        const holders = [];
        try {
            // (two holders answered once, not sent a half request and given 300 ms: under
            // ASan on a loaded machine the server had not accepted both by then)
            for (let i = 0; i < 2; i++) holders.push(await heldConnection(server));
            const extra = await rawExchange(server, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n', { timeoutMs: 2000 });
            assert.equal(extra.status, 0);
            assert.ok(extra.closed && extra.ms < 1500);
            // a slot freed is a slot for this address again
            // (once the server has seen the close: tried for up to 5 s)
            holders.pop().destroy();
            let next;
            for (let i = 0; i < 50; i++) {
                next = await rawExchange(server, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n', {
                    untilResponse: true,
                    timeoutMs: 3000,
                });
                if (next.status !== 0) break;
                await sleep(100);
            }
            assert.equal(next.status, 200);
        } finally {
            holders.forEach((h) => h.destroy());
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

describe('--header-timeout (slow headers, slowloris)', T, () => {
    // One byte every 300 ms: never idle long enough for --timeout, never a complete header.
    const TRICKLE_MS = 300;
    const trickle = (first = []) => [...first, ...`GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: ${'z'.repeat(60)}\r\n\r\n`];
    const trickleOpts = { delayMs: TRICKLE_MS, timeoutMs: ms(15_000) };

    let server;
    before(async () => {
        server = await startServer({ args: ['--header-timeout', '2', '--timeout', '20', '--request-timeout', '5'] });
    });
    after(async () => server?.stop());

    test('a connection trickling its headers is closed; other clients are served meanwhile', async () => {
        const slow = rawExchange(server, trickle(), trickleOpts);
        await sleep(1000);
        const other = await request(server, { path: '/health' });
        assert.equal(other.status, 200, 'served while the slow one trickles');
        const res = await slow;
        assert.equal(res.status, 0, res.text.slice(0, 200));
        assert.ok(res.closed, 'closed by the server');
        // due at 2 s: not before, and long before its ~25 s of header bytes were all sent
        assert.ok(res.ms >= 1800 && res.ms < ms(8000), `closed after about 2 s (${res.ms} ms)`);
    });

    test('many trickling connections are all closed and the server stays usable', async () => {
        const logBefore = server.stderr().length;
        const slow = Array.from({ length: 50 }, () => rawExchange(server, trickle(), trickleOpts));
        for (let i = 0; i < 5; i++) {
            await sleep(500);
            const res = await request(server, { path: '/v2/key-value-stores' });
            assert.equal(res.status, 200, `request ${i} while 50 connections trickle`);
        }
        const all = await Promise.all(slow);
        assert.deepEqual(
            all.filter((r) => !r.closed || r.status !== 0).map((r) => ({ status: r.status, closed: r.closed, ms: r.ms })),
            [],
            'every trickling connection was closed without an answer',
        );
        assert.ok(Math.max(...all.map((r) => r.ms)) < ms(10_000));
        const res = await request(server, { path: '/health' });
        assert.equal(res.status, 200);
        const metrics = (await request(server, { path: '/metrics' })).text;
        const cut = Number(/^kvs_http_header_timeouts_total (\d+)$/m.exec(metrics)?.[1]);
        assert.ok(cut >= 50, `each cut connection counted in /metrics (${cut})`);
        // libmicrohttpd's line per broken-off connection is held to 10 a second (two seconds
        // may be touched), not one per connection
        const mhdLines = server.stderr().slice(logBefore).split('\n').filter((l) => / warn http: /.test(l) && !/not shown/.test(l));
        assert.ok(mhdLines.length <= 20, `at most 20 warnings for 50 cut connections, got ${mhdLines.length}:\n${mhdLines.slice(0, 5).join('\n')}`);
    });

    test('a keep-alive connection trickling its next request is closed too', async () => {
        const res = await rawExchange(server, trickle(['GET /health HTTP/1.1\r\nHost: a\r\n\r\n']), trickleOpts);
        assert.equal(res.status, 200, 'the first request was answered');
        assert.equal((res.text.match(/HTTP\/1\.1 /g) || []).length, 1, 'the second one was not');
        assert.ok(res.closed, 'closed by the server');
        assert.ok(res.ms >= 1800 && res.ms < ms(8000), `closed about 2 s after the first answer (${res.ms} ms)`);
    });

    test('complete headers with a slow body are governed by --request-timeout, not this', async () => {
        const { store } = await createStore(makeClient(server), 'slowbody');
        const head = (key, n) =>
            `PUT ${recordPath(store.id, key)} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${server.token}\r\n` +
            `Content-Type: text/plain\r\nContent-Length: ${n}\r\n\r\n`;
        // 20 bytes over about 3.5 s: past the header timeout, within the request timeout
        const ok = await rawExchange(server, [head('ok', 20), ...Array.from({ length: 10 }, () => 'ab')], {
            delayMs: 350,
            timeoutMs: ms(15_000),
            untilResponse: true,
        });
        assert.equal(ok.status, 201, ok.text.slice(0, 300));
        const get = await request(server, { path: recordPath(store.id, 'ok') });
        assert.equal(get.status, 200);
        assert.equal(get.body.toString(), 'ab'.repeat(10));
        // 60 bytes over about 9 s: cut by --request-timeout (5 s), not at 2 s
        const cut = await rawExchange(server, [head('cut', 60), ...Array.from({ length: 30 }, () => 'ab')], {
            delayMs: 300,
            timeoutMs: ms(15_000),
        });
        assert.equal(cut.status, 0, cut.text.slice(0, 200));
        assert.ok(cut.closed, 'closed by the server');
        assert.ok(cut.ms >= 4500, `cut by the request timeout (${cut.ms} ms)`);
        const none = await request(server, { path: recordPath(store.id, 'cut') });
        assert.equal(none.status, 404, 'nothing stored');
    });

    test('--header-timeout 0 turns it off: trickled headers are served', async () => {
        const off = await startServer({ args: ['--header-timeout', '0', '--timeout', '3'] });
        try {
            // 5 s of header bytes, one every 300 ms: never idle for 3 s, never cut
            const parts = ['GET /health HTTP/1.1\r\nHost: a\r\n', ...'X-Slow: abcdefghijklm\r\n', '\r\n'];
            const res = await rawExchange(off, parts, { delayMs: TRICKLE_MS, timeoutMs: ms(20_000), untilResponse: true });
            assert.equal(res.status, 200, res.text.slice(0, 200));
            assert.ok(res.ms >= 4500, `${res.ms} ms`);
        } finally {
            await off.stop();
        }
    });

    test('the option is checked', async () => {
        const res = await runKvs(['serve', '--header-timeout', 'abc']);
        assert.equal(res.code, 2);
        assert.match(res.stderr, /invalid value 'abc' for --header-timeout: expected 0 to 86400 seconds/);
    });
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
