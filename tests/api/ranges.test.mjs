// Byte ranges on record GET (RFC 9110 §14): 206 with Content-Range for one range, 416 with
// Content-Range: bytes */LEN, ranges ignored where RFC 9110 allows (other units, several
// ranges, malformed, HEAD, a record decoded for the client), Accept-Ranges, a 10 MiB record,
// and `curl -C -` resuming a download. If-Range is in validators.test.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

import { rawExchange, rawHeader } from '../lib/raw.mjs';
import { MiB, assertApiError, createStore, makeClient, makeTempDir, ms, recordPath, request, startServer } from '../lib/server.mjs';

const run = promisify(execFile);
const T = { timeout: ms(60_000) };

let server;
let client;
let store;
const VALUE = randomBytes(5000);

before(async () => {
    server = await startServer();
    client = makeClient(server);
    ({ store } = await createStore(client, 'ranges'));
    await put('v', VALUE, { 'Content-Type': 'application/octet-stream' });
});

after(async () => {
    await server?.stop();
});

function put(key, body, headers = {}) {
    return request(server, { method: 'PUT', path: recordPath(store.id, key), body, headers }).then((res) => {
        assert.equal(res.status, 201, res.text);
        return res;
    });
}

function get(key, headers = {}, method = 'GET') {
    return request(server, { method, path: recordPath(store.id, key), headers: { 'Accept-Encoding': 'identity', ...headers } });
}

/** Asserts a 206 of bytes FIRST..LAST (inclusive) of WHOLE. */
function assertPart(res, whole, first, last) {
    assert.equal(res.status, 206, res.text.slice(0, 200));
    assert.equal(res.headers['content-range'], `bytes ${first}-${last}/${whole.length}`);
    assert.equal(res.headers['content-length'], String(last - first + 1));
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.ok(res.body.equals(whole.subarray(first, last + 1)), `bytes ${first}-${last}`);
}

describe('one range → 206 Partial Content', () => {
    test('first-last, first-, -suffix', T, async () => {
        assertPart(await get('v', { Range: 'bytes=0-99' }), VALUE, 0, 99);
        assertPart(await get('v', { Range: 'bytes=100-100' }), VALUE, 100, 100);
        assertPart(await get('v', { Range: 'bytes=4000-' }), VALUE, 4000, 4999);
        assertPart(await get('v', { Range: 'bytes=-250' }), VALUE, 4750, 4999);
        assertPart(await get('v', { Range: 'bytes=4999-4999' }), VALUE, 4999, 4999);
    });

    test('a last byte past the end is cut to the end; a suffix longer than the record is the whole record', T, async () => {
        assertPart(await get('v', { Range: 'bytes=4990-999999' }), VALUE, 4990, 4999);
        assertPart(await get('v', { Range: 'bytes=-999999' }), VALUE, 0, 4999);
        assertPart(await get('v', { Range: 'bytes=0-99999999999999999999999' }), VALUE, 0, 4999);
    });

    test('the unit is case-insensitive, and spaces and an empty list member are allowed', T, async () => {
        assertPart(await get('v', { Range: 'BYTES=1-2' }), VALUE, 1, 2);
        assertPart(await get('v', { Range: 'bytes=1-2, ' }), VALUE, 1, 2);
    });

    test('a 200 advertises Accept-Ranges: bytes', T, async () => {
        const res = await get('v');
        assert.equal(res.status, 200);
        assert.equal(res.headers['accept-ranges'], 'bytes');
        assert.equal(res.headers['content-range'], undefined);
    });

    test('the part keeps the record headers (Content-Type, nosniff); an audio or video record can be seeked', T, async () => {
        const media = randomBytes(64 * 1024);
        await put('clip.mp4', media, { 'Content-Type': 'video/mp4' });
        const res = await get('clip.mp4', { Range: 'bytes=32768-' });
        assertPart(res, media, 32768, media.length - 1);
        assert.equal(res.headers['content-type'], 'video/mp4');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
    });

    test('a range of a record stored compressed is a range of the stored bytes, for a client that takes the coding', T, async () => {
        const text = 'compressible text '.repeat(2000);
        const gz = zlib.gzipSync(Buffer.from(text));
        await put('gz', gz, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' });
        const res = await get('gz', { 'Accept-Encoding': 'gzip', Range: 'bytes=10-19' });
        assertPart(res, gz, 10, 19);
        assert.equal(res.headers['content-encoding'], 'gzip');
    });

    test('a signed URL takes a Range too', T, async () => {
        const url = await client.keyValueStore(store.id).getRecordPublicUrl('v');
        const u = new URL(url);
        const res = await request(server.url, { path: u.pathname + u.search, token: false, headers: { Range: 'bytes=0-9' } });
        assertPart(res, VALUE, 0, 9);
    });
});

describe('416 Range Not Satisfiable', () => {
    for (const range of ['bytes=5000-', 'bytes=5000-6000', 'bytes=99999999999999999999-', 'bytes=-0']) {
        test(`${range} of 5000 bytes → 416 with Content-Range: bytes */5000`, T, async () => {
            const res = await get('v', { Range: range });
            assertApiError(res, 416, 'range-not-satisfiable');
            assert.equal(res.headers['content-range'], 'bytes */5000');
        });
    }

    test('an empty record: an int-range is unsatisfiable; a suffix gets the (empty) whole', T, async () => {
        await put('empty', Buffer.alloc(0), { 'Content-Type': 'text/plain' });
        const res = await get('empty', { Range: 'bytes=0-' });
        assertApiError(res, 416, 'range-not-satisfiable');
        assert.equal(res.headers['content-range'], 'bytes */0');
        const suffix = await get('empty', { Range: 'bytes=-5' });
        assert.equal(suffix.status, 200);
        assert.equal(suffix.body.length, 0);
    });

    test('a missing record is 404 whatever the Range', T, async () => {
        assertApiError(await get('nope', { Range: 'bytes=0-1' }), 404, 'record-not-found');
    });
});

describe('ranges that are ignored (200, the whole record)', () => {
    for (const range of ['bytes=0-1,10-20', 'bytes=0-1, -5', 'items=0-1', 'bytes=5-4', 'bytes=a-b', 'bytes=', 'bytes=0-1 junk']) {
        test(`Range: ${range}`, T, async () => {
            const res = await get('v', { Range: range });
            assert.equal(res.status, 200);
            assert.equal(res.headers['content-range'], undefined);
            assert.ok(res.body.equals(VALUE));
        });
    }

    test('HEAD with a Range: Range is only defined for GET', T, async () => {
        const res = await get('v', { Range: 'bytes=0-9' }, 'HEAD');
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-length'], String(VALUE.length));
        assert.equal(res.headers['content-range'], undefined);
    });

    test('a record decoded for the client: no range of bytes made on the fly, no Accept-Ranges', T, async () => {
        const text = 'decoded for the client '.repeat(500);
        await put('br', zlib.brotliCompressSync(Buffer.from(text)), { 'Content-Type': 'text/plain', 'Content-Encoding': 'br' });
        const res = await get('br', { 'Accept-Encoding': 'identity', Range: 'bytes=0-9' });
        assert.equal(res.status, 200);
        assert.equal(res.text, text);
        assert.equal(res.headers['content-range'], undefined);
        assert.equal(res.headers['accept-ranges'], undefined);
    });
});

describe('large records', () => {
    test('parts of a 10 MiB record: head, middle, tail', { timeout: ms(120_000) }, async () => {
        const big = randomBytes(10 * MiB);
        await put('big', big, { 'Content-Type': 'application/octet-stream' });
        assertPart(await get('big', { Range: 'bytes=0-99' }), big, 0, 99);
        assertPart(await get('big', { Range: 'bytes=5242880-5308415' }), big, 5242880, 5308415);
        assertPart(await get('big', { Range: 'bytes=-100' }), big, big.length - 100, big.length - 1);
        // and on a raw connection: the head of the answer says exactly 100 bytes follow
        const raw = await rawExchange(server, `GET ${recordPath(store.id, 'big')} HTTP/1.1\r\nHost: x\r\n` +
            `Authorization: Bearer ${server.token}\r\nRange: bytes=10485660-\r\nConnection: close\r\n\r\n`, { timeoutMs: ms(10_000) });
        assert.equal(raw.status, 206);
        assert.equal(rawHeader(raw.text, 'Content-Length'), '100');
        assert.equal(rawHeader(raw.text, 'Content-Range'), `bytes 10485660-10485759/${10 * MiB}`);
    });

    test('curl -C - resumes an interrupted download, and a finished one is left as it is', { timeout: ms(120_000) }, async () => {
        const whole = randomBytes(3 * MiB + 123);
        await put('download.bin', whole, { 'Content-Type': 'application/octet-stream' });
        const dir = await makeTempDir('kvs-range-');
        try {
            const file = path.join(dir, 'download.bin');
            await fs.writeFile(file, whole.subarray(0, MiB + 7)); // as if the connection broke there
            const url = `${server.url}${recordPath(store.id, 'download.bin')}`;
            const args = ['-sS', '-C', '-', '-o', file, '-H', `Authorization: Bearer ${server.token}`, '-w', '%{http_code}', url];
            const first = await run('curl', args);
            assert.equal(first.stdout, '206');
            assert.ok((await fs.readFile(file)).equals(whole), 'the file is whole after resuming');
            const again = await run('curl', args); // curl takes the 416 of a finished file as done
            assert.equal(again.stdout, '416');
            assert.ok((await fs.readFile(file)).equals(whole), 'and stays whole');
        } finally {
            await fs.rm(dir, { recursive: true, force: true });
        }
    });
});
