// A catalogue of malformed and hostile requests, sent over raw sockets: each gets the right
// status (or, where libmicrohttpd answers or closes by itself, that is pinned down), and the
// store is unchanged after each.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';

import { createStore, makeClient, ms, NEEDS_SPAWN, recordPath, request, startServer } from '../lib/server.mjs';
import { rawExchange, rawJson } from '../lib/raw.mjs';

const T = { timeout: ms(120_000), skip: NEEDS_SPAWN };

let server;
let client;
let store;
let snapshot; // JSON of the store's keys and the record, taken before the catalogue

async function storeState() {
    const keys = await client.keyValueStore(store.id).listKeys();
    const rec = await request(server, { path: recordPath(store.id, 'keep') });
    return JSON.stringify({ keys: keys.items.map((k) => [k.key, k.size]), rec: rec.text });
}

before(async () => {
    server = await startServer({ args: ['--max-record-size', '64K'] });
    client = makeClient(server);
    ({ store } = await createStore(client, 'catalogue'));
    await client.keyValueStore(store.id).setRecord({ key: 'keep', value: 'original', contentType: 'text/plain' });
    snapshot = await storeState();
});
after(async () => server?.stop());

const A = () => `Authorization: Bearer ${server.token}\r\n`;
const R = () => `/v2/key-value-stores/${store.id}/records/`;

// [name, request text (latin1) | function, expected status (0 = closed without an answer), API error type?]
const CASES = [
    // request lines
    ['not HTTP at all', () => 'GARBAGE\r\n\r\n', 0],
    ['no HTTP version', () => 'GET /health\r\n\r\n', 400],
    ['unknown HTTP version', () => 'GET /health HTTP/9.9\r\nHost: a\r\n\r\n', 505],
    ['lower-case method', () => 'get /health HTTP/1.1\r\nHost: a\r\n\r\n', 405, 'method-not-allowed'],
    ['unknown method on a record', () => `BREW ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}\r\n`, 405, 'method-not-allowed'],
    ['absolute-form target', () => 'GET http://a/health HTTP/1.1\r\nHost: a\r\n\r\n', 404, 'page-not-found'],
    ['asterisk target', () => 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n', 404, 'page-not-found'],
    ['CONNECT', () => 'CONNECT a:80 HTTP/1.1\r\nHost: a\r\n\r\n', 404, 'page-not-found'],
    ['raw NUL in the target', () => 'GET /he\0alth HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'invalid-request'],
    ['header line without a colon', () => 'GET /health HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n', 400],
    // percent-encoding, NUL and non-UTF-8 in keys
    ['bad escape in a key', () => `PUT ${R()}%zz HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['truncated escape in a key', () => `PUT ${R()}ab%4 HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['encoded NUL in a key', () => `PUT ${R()}a%00b HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['encoded non-UTF-8 in a key', () => `PUT ${R()}a%ffb HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['raw non-UTF-8 in a key', () => `PUT ${R()}a\xffb HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['encoded UTF-8 in a key', () => `PUT ${R()}%C3%A9 HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['encoded slash in a key', () => `PUT ${R()}a%2Fb HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\n\r\nx`, 400, 'invalid-record-key'],
    ['dot-dot key', () => `DELETE ${R()}.. HTTP/1.1\r\nHost: a\r\n${A()}\r\n`, 400, 'invalid-record-key'],
    ['bad escape in the query', () => `GET ${R()}keep?attachment=%zz HTTP/1.1\r\nHost: a\r\n${A()}\r\n`, 400, 'invalid-parameter'],
    ['encoded NUL in a query name', () => `DELETE ${R()}keep?a%00b=1 HTTP/1.1\r\nHost: a\r\n${A()}\r\n`, 400, 'invalid-parameter'],
    ['bad escape in the store', () => `DELETE /v2/key-value-stores/%zz/records/keep HTTP/1.1\r\nHost: a\r\n${A()}\r\n`, 404],
    // duplicate and conflicting headers
    ['two different Content-Length', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy`, 400, 'invalid-request'],
    ['two equal Content-Length', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 2\r\nContent-Length: 2\r\n\r\nxy`, 400, 'invalid-request'],
    ['Content-Length and chunked', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`, 400, 'invalid-request'],
    ['Transfer-Encoding gzip', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Transfer-Encoding: gzip\r\n\r\nx`, 400, 'invalid-request'],
    ['Transfer-Encoding twice', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`, 400, 'invalid-request'],
    ['Content-Length not a number', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: abc\r\n\r\nx`, 400],
    ['negative Content-Length', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Length: -1\r\n\r\nx`, 400],
    ['malformed chunk size', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n`, 400],
    ['a wrong and a right token', () => `DELETE ${R()}keep HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer nope\r\n${A()}\r\n`, 401, 'user-or-token-not-found'],
    ['unknown Content-Encoding', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Encoding: zstd\r\nContent-Length: 1\r\n\r\nx`, 415, 'unsupported-content-encoding'],
    ['gzip body that is not gzip', () => `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello`, 400, 'invalid-request'],
];

describe('catalogue of malformed requests', T, () => {
    for (const [name, make, status, type] of CASES) {
        test(`${name} → ${status || 'closed'}`, async () => {
            const res = await rawExchange(server, Buffer.from(make(), 'latin1'), { untilResponse: true, timeoutMs: 3000 });
            assert.equal(res.status, status, `${name}: ${res.text.slice(0, 300)}`);
            if (status === 0) assert.ok(res.closed && res.ms < 2500, 'closed at once');
            if (type) assert.equal(rawJson(res.text)?.error?.type, type, res.text.slice(0, 300));
            assert.equal(await storeState(), snapshot, 'store unchanged');
        });
    }

    test('truncated body: the client gives up, nothing is stored', async () => {
        const res = await rawExchange(
            server,
            `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Content-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc`,
            { timeoutMs: 500 },
        );
        assert.equal(res.status, 0, 'no answer while the body is incomplete');
        assert.equal(await storeState(), snapshot);
    });

    test('truncated chunked body: nothing is stored', async () => {
        await rawExchange(server, `PUT ${R()}keep HTTP/1.1\r\nHost: a\r\n${A()}Transfer-Encoding: chunked\r\n\r\n5\r\nab`, {
            timeoutMs: 500,
        });
        assert.equal(await storeState(), snapshot);
    });

    test('gzip bomb: a body decoding to more than 10 × the record limit is refused (413)', async () => {
        const bomb = gzipSync(Buffer.alloc(64 * 1024 * 11, 0)); // 704 KiB of zeros in ~1 KiB
        assert.ok(bomb.length < 64 * 1024);
        const res = await request(server, {
            method: 'PUT',
            path: recordPath(store.id, 'keep'),
            headers: { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip' },
            body: bomb,
        });
        assert.equal(res.status, 413, res.text);
        assert.equal(res.json().error.type, 'request-too-large');
        assert.equal(await storeState(), snapshot);
    });

    test('a gzip record within the bound is decoded for a client that refuses gzip, and no more', async () => {
        const plain = Buffer.alloc(64 * 1024 * 5, 0x61);
        const put = await request(server, {
            method: 'PUT',
            path: recordPath(store.id, 'gz'),
            headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' },
            body: gzipSync(plain),
        });
        assert.equal(put.status, 201, put.text);
        const get = await request(server, { path: recordPath(store.id, 'gz'), headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(get.status, 200);
        assert.equal(get.headers['content-encoding'], undefined);
        assert.ok(get.body.equals(plain));
        await request(server, { method: 'DELETE', path: recordPath(store.id, 'gz') });
        assert.equal(await storeState(), snapshot);
    });

    test('the server still answers normally after the catalogue', async () => {
        const res = await request(server, { path: '/health' });
        assert.equal(res.status, 200);
    });
});
