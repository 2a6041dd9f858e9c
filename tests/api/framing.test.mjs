// Ambiguous framing (issue 19, RFC 9112 §2.2, §3.2, §5.1, §5.2): heads libmicrohttpd 0.9.75
// lets through and a proxy in front might read otherwise get 400 invalid-request and the
// connection closed, before any body byte is read: whitespace before a colon, obs-fold, NULs,
// bare LF and CR, a missing or repeated Host, a malformed request line. Each one carries a
// smuggled request in what would be its body: it must never be answered or acted on (it
// deletes a record, which must still be there). src/server/strict.h says how.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { createStore, makeClient, ms, NEEDS_SPAWN, recordPath, request, startServer } from '../lib/server.mjs';
import { rawExchange, rawJson } from '../lib/raw.mjs';

const T = { timeout: ms(120_000), skip: NEEDS_SPAWN };

let server;
let store;

before(async () => {
    server = await startServer();
    ({ store } = await createStore(makeClient(server), 'framing'));
    const put = await request(server, { method: 'PUT', path: recordPath(store.id, 'keep'), headers: { 'Content-Type': 'text/plain' }, body: 'kept' });
    assert.equal(put.status, 201);
});
after(async () => server?.stop());

const auth = () => `Authorization: Bearer ${server.token}\r\n`;
/** The request hidden in the body: it would delete the record "keep". */
const smuggled = () => `DELETE ${recordPath(store.id, 'keep')} HTTP/1.1\r\nHost: a\r\n${auth()}\r\n`;
const put = () => `PUT ${recordPath(store.id, 'x')} HTTP/1.1\r\n`;
const chunked = (body) => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;

// [name, head (up to and including the empty line) given the smuggled request's length]
const CASES = [
    ['space before the colon of Content-Length', (n) => `${put()}Host: a\r\n${auth()}Content-Length : ${n}\r\n\r\n`],
    ['tab before the colon of Content-Length', (n) => `${put()}Host: a\r\n${auth()}Content-Length\t: ${n}\r\n\r\n`],
    ['space before the colon of Transfer-Encoding', () => `${put()}Host: a\r\n${auth()}Transfer-Encoding : chunked\r\n\r\n`, true],
    ['obs-folded Transfer-Encoding', () => `${put()}Host: a\r\n${auth()}Transfer-Encoding: identity\r\n chunked\r\n\r\n`, true],
    ['Transfer-Encoding folded onto an empty line', () => `${put()}Host: a\r\n${auth()}Transfer-Encoding:\r\n\tchunked\r\n\r\n`, true],
    ['a folded Content-Length', (n) => `${put()}Host: a\r\n${auth()}Content-Length:\r\n ${n}\r\n\r\n`],
    ['a NUL inside Content-Length', (n) => `${put()}Host: a\r\n${auth()}Content-Length: 0\0${n}\r\n\r\n`],
    ['a NUL inside Transfer-Encoding', () => `${put()}Host: a\r\n${auth()}Transfer-Encoding: chunked\0x\r\n\r\n`, true],
    ['a bare LF ending a field', (n) => `${put()}Host: a\r\n${auth()}X-A: 1\nContent-Length: ${n}\r\n\r\n`],
    ['bare LFs only', (n) => `${put().replace('\r\n', '\n')}Host: a\n${auth().replace('\r\n', '\n')}Content-Length: ${n}\n\n`],
    ['a bare CR inside a value', (n) => `${put()}Host: a\r\n${auth()}X-A: 1\rContent-Length: 0\r\nContent-Length2: ${n}\r\n\r\n`],
    ['no Host on HTTP/1.1', (n) => `${put()}${auth()}Content-Length: ${n}\r\n\r\n`],
    ['two Hosts', (n) => `${put()}Host: a\r\nHost: b\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['two Hosts on HTTP/1.0', (n) => `${put().replace('1.1', '1.0')}Host: a\r\nhost: b\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['a NUL in the request target', (n) => `PUT ${recordPath(store.id, 'x')}\0/../y HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['a NUL in the query', (n) => `PUT ${recordPath(store.id, 'x')}?a=\0 HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['a space in the request target', (n) => `PUT ${recordPath(store.id, 'x')} y HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['two spaces before the target', (n) => `PUT  ${recordPath(store.id, 'x')} HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['a method that is not a token', (n) => `P(T ${recordPath(store.id, 'x')} HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: ${n}\r\n\r\n`],
    ['a field name that is not a token', (n) => `${put()}Host: a\r\n${auth()}X(A): 1\r\nContent-Length: ${n}\r\n\r\n`],
];

async function recordKept() {
    const res = await request(server, { path: recordPath(store.id, 'keep') });
    return res.status === 200 && res.text === 'kept';
}

describe('ambiguous framing: 400 and close, and the smuggled request is never read', T, () => {
    for (const [name, head, isChunked] of CASES) {
        test(name, async () => {
            const hidden = smuggled();
            const body = isChunked ? chunked(hidden) : hidden;
            const res = await rawExchange(server, Buffer.from(head(hidden.length) + body + hidden, 'latin1'), { timeoutMs: ms(3000) });
            assert.equal(res.status, 400, `${name}: ${res.text.slice(0, 300)}`);
            assert.equal(rawJson(res.text)?.error?.type, 'invalid-request', res.text.slice(0, 300));
            assert.equal((res.text.match(/HTTP\/1\.1 \d{3} /g) || []).length, 1, `one answer only: ${res.text}`);
            assert.ok(res.closed && res.ms < ms(2500), 'the connection is closed at once');
            assert.ok(await recordKept(), 'the smuggled DELETE never ran');
            const x = await request(server, { path: recordPath(store.id, 'x') });
            assert.equal(x.status, 404, 'nothing was stored');
        });
    }

    test('well-formed heads of every shape are still served, kept alive', async () => {
        const heads = [
            `GET /health HTTP/1.1\r\nHost: a\r\nX-T:\tv \t\r\nX-E:\r\nCookie: a=1; b=2\r\nX-Obs: caf\xe9\r\n\r\n`,
            'GET /health HTTP/1.0\r\n\r\n',
            `GET /health HTTP/1.1\r\nhost: a\r\nX-Big: ${'y'.repeat(6000)}\r\n\r\n`,
        ];
        for (const h of heads) {
            const res = await rawExchange(server, Buffer.from(h, 'latin1'), { untilResponse: true, timeoutMs: ms(3000) });
            assert.equal(res.status, 200, `${JSON.stringify(h.slice(0, 60))}: ${res.text.slice(0, 200)}`);
        }
        // two requests on one connection, the second after the first's body
        const two = `PUT ${recordPath(store.id, 'y')} HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: 2\r\n\r\nhi` + 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n';
        const res = await rawExchange(server, two, { timeoutMs: ms(1500) });
        assert.deepEqual((res.text.match(/HTTP\/1\.1 (\d{3}) /g) || []).map((s) => s.trim()), ['HTTP/1.1 201', 'HTTP/1.1 200']);
        await request(server, { method: 'DELETE', path: recordPath(store.id, 'y') });
    });
});
