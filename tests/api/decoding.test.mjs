// Records stored with a Content-Encoding, sent decoded to clients that refuse it (issue 19,
// finding 2: a review took a server from 12 MB to 1 GB with one anonymous ZIP download of ten
// gzip records). Decoding now happens while the answer goes out, in a fixed window, for every
// coding (gzip, deflate, br) and every way out (GET, HEAD, 304, the ZIP download); the server's
// peak resident memory (VmHWM in /proc/PID/status) is read before and after and must stay
// within a bound far below the decoded sizes. A bound on memory is a property, not a timing.
//
// The decoding budget (--decode-memory): a GET that finds it spent gets 503 with Retry-After,
// an upload too; HEAD and 304 take nothing from it; a ZIP download, which has sent its status
// already, waits for it and then completes; stopping the server while one waits is clean.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import zlib from 'node:zlib';

import { MiB, NEEDS_SPAWN, assertApiError, createStore, makeClient, ms, recordPath, request, startServer, storePath, waitFor } from '../lib/server.mjs';
import { ASAN_ENV, peakRss, resetPeak } from '../lib/memory.mjs';
import { readZip } from '../lib/zip.mjs';

const T = { timeout: ms(180_000), skip: NEEDS_SPAWN };

/** N bytes of a repeated random 4 KiB block: compresses a hundredfold, decodes to N. */
function patterned(n) {
    const block = randomBytes(4096);
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; at += block.length) block.copy(out, at, 0, Math.min(block.length, n - at));
    return out;
}

const ENCODERS = {
    gzip: (b) => zlib.gzipSync(b, { level: 6 }),
    deflate: (b) => zlib.deflateSync(b, { level: 6 }),
    br: (b, lgwin = 22) =>
        zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_LGWIN]: lgwin } }),
};

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/**
 * GET PATH with HEADERS, the body hashed as it arrives (never held). With { pause: true } the
 * promise resolves at the first body bytes with { res, resume() }: the caller has stopped
 * reading, and resume() reads the rest and resolves with the result. Results:
 * { status, headers, size, sha256, complete } (complete: the body ended properly).
 */
function streamGet(server, path, headers = {}, { pause = false } = {}) {
    return new Promise((resolve, reject) => {
        const u = new URL(server.url);
        const req = http.request({ host: u.hostname, port: u.port, path, headers: { Authorization: `Bearer ${server.token}`, ...headers }, agent: false });
        req.on('error', reject);
        req.on('response', (res) => {
            const hash = createHash('sha256');
            let size = 0;
            let paused = false;
            const done = new Promise((res2) => {
                let finished = false;
                const finish = (complete) => {
                    if (finished) return;
                    finished = true;
                    res2({ status: res.statusCode, headers: res.headers, size, sha256: hash.digest('hex'), complete });
                };
                res.on('end', () => finish(res.complete));
                res.on('aborted', () => finish(false));
                res.on('error', () => finish(false));
                res.on('close', () => finish(res.complete));
            });
            res.on('data', (c) => {
                hash.update(c);
                size += c.length;
                if (pause && !paused) {
                    paused = true;
                    res.pause();
                    resolve({ res, resume: () => (res.resume(), done) });
                }
            });
            if (!pause) done.then(resolve);
            else done.then((r) => !paused && resolve({ res, resume: () => Promise.resolve(r), result: r }));
        });
        req.end();
    });
}

describe('a coded record sent decoded takes a fixed window, not its decoded size', () => {
    const SIZE = 48 * MiB; // decoded; the old code held it whole, and then some
    const BOUND = 16 * MiB; // the most the peak may grow over the server's resident memory
    let server;
    let store;
    let plain;
    const bodies = {};

    before(async () => {
        if (NEEDS_SPAWN) return;
        server = await startServer({ env: ASAN_ENV });
        ({ store } = await createStore(makeClient(server), 'decoding'));
        plain = patterned(SIZE);
        for (const [enc, encode] of Object.entries(ENCODERS)) {
            const body = (bodies[enc] = encode(plain));
            assert.ok(body.length < 10 * MiB, `${enc} body fits the record limit`);
            const put = await request(server, { method: 'PUT', path: recordPath(store.id, enc), body, headers: { 'Content-Type': 'text/plain', 'Content-Encoding': enc } });
            assert.equal(put.status, 201, put.text);
        }
    });

    after(async () => {
        await server?.stop();
    });

    for (const enc of Object.keys(ENCODERS)) {
        test(`${enc}: GET, HEAD and 304 for a client that refuses ${enc}`, T, async (t) => {
            const path = recordPath(store.id, enc);
            const base = resetPeak(server);
            const get = await streamGet(server, path, { 'Accept-Encoding': 'identity' });
            assert.equal(get.status, 200);
            assert.equal(get.complete, true);
            assert.equal(get.size, SIZE);
            assert.equal(get.sha256, sha256(plain));
            assert.equal(get.headers['content-encoding'], undefined);
            assert.equal(get.headers['content-length'], undefined, 'the decoded length is not known in advance');
            assert.equal(get.headers['transfer-encoding'], 'chunked');
            assert.match(get.headers.etag, /-identity"$/);
            assert.equal(get.headers.vary, 'Accept-Encoding');

            // HEAD: the 200's headers, nothing decoded to learn a length
            const head = await request(server, { method: 'HEAD', path, headers: { 'Accept-Encoding': 'identity' } });
            assert.equal(head.status, 200);
            assert.equal(head.headers['content-length'], undefined);
            assert.equal(head.headers['transfer-encoding'], 'chunked');
            assert.equal(head.headers.etag, get.headers.etag);
            assert.equal(head.body.length, 0);

            // 304: the decoded variant's validator
            const notModified = await request(server, { path, headers: { 'Accept-Encoding': 'identity', 'If-None-Match': get.headers.etag } });
            assert.equal(notModified.status, 304);
            assert.equal(notModified.body.length, 0);
            assert.equal(notModified.headers.etag, get.headers.etag);

            // the stored bytes still go out as they are to a client that takes the coding
            const coded = await streamGet(server, path, { 'Accept-Encoding': enc });
            assert.equal(coded.headers['content-encoding'], enc);
            assert.equal(coded.sha256, sha256(bodies[enc]));

            const grown = peakRss(server) - base;
            t.diagnostic(`peak RSS +${(grown / MiB).toFixed(1)} MiB over its resident memory before`);
            assert.ok(grown <= BOUND, `peak memory grew by ${(grown / MiB).toFixed(1)} MiB sending ${SIZE / MiB} MiB decoded (bound ${BOUND / MiB} MiB)`);
        });
    }

    test('several decoded GETs at once each take their window', T, async (t) => {
        const base = resetPeak(server);
        const gets = [];
        for (let i = 0; i < 4; i++) for (const enc of Object.keys(ENCODERS)) gets.push(streamGet(server, recordPath(store.id, enc), { 'Accept-Encoding': 'identity' }));
        for (const g of await Promise.all(gets)) {
            assert.equal(g.status, 200);
            assert.equal(g.sha256, sha256(plain));
        }
        // four Brotli decoders of a 4 MiB window at once (with their tables) on top
        const grown = peakRss(server) - base;
        const bound = BOUND + 4 * 8 * MiB;
        t.diagnostic(`peak RSS +${(grown / MiB).toFixed(1)} MiB over its resident memory before`);
        assert.ok(grown <= bound, `peak memory grew by ${(grown / MiB).toFixed(1)} MiB for 12 decoded GETs of ${SIZE / MiB} MiB (bound ${bound / MiB} MiB)`);
    });

    test('the ZIP download of ten gzip records (and br, deflate) decodes one entry at a time', T, async (t) => {
        const { store: zipStore } = await createStore(makeClient(server), 'decoding-zip');
        const part = patterned(8 * MiB);
        const keys = [];
        for (let i = 0; i < 16; i++) {
            const enc = i < 10 ? 'gzip' : i < 13 ? 'br' : 'deflate';
            const key = `r${String(i).padStart(2, '0')}-${enc}`;
            keys.push(key);
            const put = await request(server, { method: 'PUT', path: recordPath(zipStore.id, key), body: ENCODERS[enc](part), headers: { 'Content-Type': 'application/octet-stream', 'Content-Encoding': enc } });
            assert.equal(put.status, 201, put.text);
        }
        const base = resetPeak(server);
        const zip = await streamGet(server, `${storePath(zipStore.id)}/records`);
        assert.equal(zip.status, 200);
        assert.equal(zip.complete, true);
        assert.ok(zip.size > 16 * 8 * MiB, `the archive holds every decoded record (${zip.size} bytes)`);
        const grown = peakRss(server) - base;
        t.diagnostic(`peak RSS +${(grown / MiB).toFixed(1)} MiB over its resident memory before`);
        assert.ok(grown <= BOUND, `peak memory grew by ${(grown / MiB).toFixed(1)} MiB for a ZIP of ${(16 * 8)} MiB decoded`);
    });
});

describe('the ZIP download: every entry byte-exact, decoded ones with data descriptors', () => {
    let server;
    before(async () => {
        if (NEEDS_SPAWN) return;
        server = await startServer();
    });
    after(async () => {
        await server?.stop();
    });

    test('identity, gzip, deflate (zlib and raw), br, empty and multi-member records', T, async () => {
        const { store } = await createStore(makeClient(server), 'zip-exact');
        const texts = {
            a: randomBytes(70_000),
            b: Buffer.from('hello '.repeat(20_000)),
            c: patterned(300_000),
            d: Buffer.alloc(0),
            e: Buffer.from('first member, second member'),
        };
        const records = [
            ['a-identity', texts.a, null, texts.a],
            ['b-gzip', zlib.gzipSync(texts.b), 'gzip', texts.b],
            ['c-deflate', zlib.deflateSync(texts.c), 'deflate', texts.c],
            ['c-raw', zlib.deflateRawSync(texts.c), 'deflate', texts.c],
            ['d-br-empty', zlib.brotliCompressSync(texts.d), 'br', texts.d],
            ['e-gzip-members', Buffer.concat([zlib.gzipSync(texts.e.subarray(0, 14)), zlib.gzipSync(texts.e.subarray(14))]), 'gzip', texts.e],
            ['f-br', zlib.brotliCompressSync(texts.c), 'br', texts.c],
        ];
        for (const [key, body, enc] of records) {
            const headers = { 'Content-Type': 'application/octet-stream', ...(enc ? { 'Content-Encoding': enc } : {}) };
            const put = await request(server, { method: 'PUT', path: recordPath(store.id, key), body, headers });
            assert.equal(put.status, 201, `${key}: ${put.text}`);
        }
        const res = await request(server, { path: `${storePath(store.id)}/records` });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'application/zip');
        const entries = readZip(res.body);
        assert.deepEqual(entries.map((e) => e.name), records.map(([k]) => k));
        for (const [i, [key, , enc, want]] of records.entries()) {
            assert.ok(entries[i].data.equals(want), `${key}: decoded bytes`);
            assert.equal(entries[i].flags & 8, enc ? 8 : 0, `${key}: a data descriptor only for decoded entries`);
        }
    });
});

describe('the decoding budget (--decode-memory)', () => {
    let server;
    let store;
    let plain;
    let br24;
    const path = () => recordPath(store.id, 'br24');

    before(async () => {
        if (NEEDS_SPAWN) return;
        server = await startServer({ args: ['--decode-memory', '24M'] });
        ({ store } = await createStore(makeClient(server), 'budget'));
        plain = patterned(32 * MiB);
        br24 = ENCODERS.br(plain, 24); // a 16 MiB window: about 19 MiB of the 24 to decode
        for (const [key, body, enc] of [['a-small', Buffer.from('uncoded'), null], ['br24', br24, 'br'], ['gz', zlib.gzipSync(plain), 'gzip'], ['gz-small', zlib.gzipSync('small'), 'gzip']]) {
            const headers = { 'Content-Type': 'application/octet-stream', ...(enc ? { 'Content-Encoding': enc } : {}) };
            const put = await request(server, { method: 'PUT', path: recordPath(store.id, key), body, headers });
            assert.equal(put.status, 201, put.text);
        }
    });

    after(async () => {
        await server?.stop();
    });

    test('spent: a GET gets 503 with Retry-After, an upload too; HEAD, 304 and small decoders go on; a ZIP waits', T, async () => {
        // a client that stops reading keeps its decoder, and so its share of the budget
        const slow = await streamGet(server, path(), { 'Accept-Encoding': 'identity' }, { pause: true });
        assert.equal(slow.res.statusCode, 200);

        const second = await request(server, { path: path(), headers: { 'Accept-Encoding': 'identity' } });
        assertApiError(second, 503, 'service-unavailable', 'a second decoder of 19 MiB does not fit in 24 MiB');
        assert.equal(second.headers['retry-after'], '1');

        const upload = await request(server, { method: 'PUT', path: recordPath(store.id, 'br24-again'), body: br24, headers: { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'br' } });
        assertApiError(upload, 503, 'service-unavailable', 'checking a coded upload needs its decoder too');
        assert.equal((await request(server, { path: recordPath(store.id, 'br24-again') })).status, 404, 'nothing stored');

        const head = await request(server, { method: 'HEAD', path: path(), headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(head.status, 200, 'HEAD decodes nothing');
        const notModified = await request(server, { path: path(), headers: { 'Accept-Encoding': 'identity', 'If-None-Match': head.headers.etag } });
        assert.equal(notModified.status, 304, '304 decodes nothing');
        const gz = await streamGet(server, recordPath(store.id, 'gz'), { 'Accept-Encoding': 'identity' });
        assert.equal(gz.status, 200, 'a gzip decoder (80 KiB) still fits');
        assert.equal(gz.sha256, sha256(plain));

        // a ZIP whose second entry needs the held memory: it starts, and waits at that entry
        let zipDone = false;
        const zip = new Promise((resolve, reject) => {
            const u = new URL(server.url);
            const req = http.request({ host: u.hostname, port: u.port, path: `${storePath(store.id)}/records`, headers: { Authorization: `Bearer ${server.token}` }, agent: false });
            req.on('error', reject);
            req.on('response', (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    zipDone = true;
                    resolve({ status: res.statusCode, complete: res.complete, body: Buffer.concat(chunks) });
                });
            });
            req.end();
        });
        // once it waits, it is first in line: a GET that would pass it gets 503 too
        await waitFor(async () => (await request(server, { path: recordPath(store.id, 'gz-small'), headers: { 'Accept-Encoding': 'identity' } })).status === 503, {
            message: 'the ZIP download queued for decoding memory',
        });

        assert.equal(zipDone, false, 'the ZIP cannot finish while its br entry waits for memory');

        const rest = await slow.resume();
        assert.equal(rest.complete, true);
        assert.equal(rest.sha256, sha256(plain));
        assert.equal(rest.size, plain.length);

        const z = await zip;
        assert.equal(z.status, 200);
        assert.equal(z.complete, true);
        const entries = readZip(z.body);
        assert.deepEqual(entries.map((e) => e.name), ['a-small', 'br24', 'gz', 'gz-small']);
        assert.ok(entries[1].data.equals(plain));
        assert.ok(entries[2].data.equals(plain));

        // and the budget is whole again
        const again = await streamGet(server, path(), { 'Accept-Encoding': 'identity' });
        assert.equal(again.status, 200);
        assert.equal(again.sha256, sha256(plain));

        // what the server says it held: never more than the limit, nothing once all is sent
        const gauge = async (name) => {
            const metrics = (await request(server, { path: '/metrics' })).text;
            return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)[1]);
        };
        assert.equal(await gauge('kvs_decode_memory_limit_bytes'), 24 * MiB);
        const peak = await gauge('kvs_decode_memory_peak_bytes');
        assert.ok(peak > 16 * MiB && peak <= 24 * MiB, `peak ${peak}: the Brotli window was taken, within the limit`);
        // (a response is released just after its last byte is sent)
        await waitFor(async () => (await gauge('kvs_decode_memory_bytes')) === 0, { message: 'every decoder given back' });
    });

    test('stopping the server while a ZIP waits for decoding memory is clean', T, async () => {
        const slow = await streamGet(server, path(), { 'Accept-Encoding': 'identity' }, { pause: true });
        const zip = new Promise((resolve) => {
            const u = new URL(server.url);
            const req = http.request({ host: u.hostname, port: u.port, path: `${storePath(store.id)}/records`, headers: { Authorization: `Bearer ${server.token}` }, agent: false });
            req.on('error', () => resolve({ complete: false }));
            req.on('response', (res) => {
                res.on('data', () => {});
                res.on('end', () => resolve({ complete: res.complete }));
                res.on('aborted', () => resolve({ complete: false }));
                res.on('error', () => resolve({ complete: false }));
            });
            req.end();
        });
        await waitFor(async () => (await request(server, { path: recordPath(store.id, 'gz-small'), headers: { 'Accept-Encoding': 'identity' } })).status === 503, {
            message: 'the ZIP download queued for decoding memory',
        });
        // libmicrohttpd aborts when stopped with a suspended connection: the server wakes it
        await server.stop({ timeoutMs: ms(30_000) }); // asserts exit code 0, after its grace time
        server = null;
        const z = await zip;
        assert.equal(z.complete, false, 'the waiting download is cut, not passed off as whole');
        slow.res.destroy();
    });
});
