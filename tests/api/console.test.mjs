// The web console as the server hands it out (src/server/assets.c): paths, content types,
// validators and 304, gzip, the pages' security headers; and what the API gained for the
// console, for every client: stats.recordCount, includeContentTypes on key lists, and
// GET /v2/users/{user}/usage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { assertApiError, createStore, dataOf, makeClient, ms, request, startServer, storePath } from '../lib/server.mjs';
import { clientAs, createUser } from '../lib/users.mjs';

const T = { timeout: ms(30_000) };
const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

let server;
let client;

before(async () => {
    server = await startServer();
    client = makeClient(server);
});

after(async () => {
    await server?.stop();
});

/** Every file under web/, as paths relative to it. */
async function webFiles(dir = WEB, prefix = '') {
    const out = [];
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) out.push(...(await webFiles(path.join(dir, e.name), `${prefix}${e.name}/`)));
        else out.push(`${prefix}${e.name}`);
    }
    return out;
}

function assertPageHeaders(res, where) {
    const csp = res.headers['content-security-policy'] || '';
    assert.match(csp, /frame-ancestors 'none'/, `${where}: frame-ancestors`);
    assert.match(csp, /script-src 'self'(;|$)/, `${where}: scripts only from the console's own files`);
    assert.match(csp, /default-src 'none'/, `${where}: default-src`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${where}: no inline script or eval`);
    assert.match(csp, /require-trusted-types-for 'script'/, `${where}: Trusted Types`);
    assert.equal(res.headers['x-frame-options'], 'DENY', where);
}

describe('console pages', () => {
    for (const p of ['/', '/console', '/console/', '/console/stores/AbCdEfGhIjKlMnOpQ', '/console/stores/x/settings', '/console/admin/users']) {
        test(`GET ${p} is the console's page`, T, async () => {
            const res = await request(server.url, { path: p });
            assert.equal(res.status, 200);
            assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
            assert.equal(res.headers['cache-control'], 'no-cache');
            assert.equal(res.headers['x-content-type-options'], 'nosniff');
            assert.match(res.headers.etag, /^"[0-9a-f]{20}"$/);
            assertPageHeaders(res, p);
            assert.equal(res.text, await fs.readFile(path.join(WEB, 'index.html'), 'utf8'));
        });
    }

    test('the page loads no inline script and nothing from another host', T, async () => {
        const html = await fs.readFile(path.join(WEB, 'index.html'), 'utf8');
        for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
            assert.match(m[1], /\bsrc="\/console\/assets\//, 'every script is a file of the console');
            assert.equal(m[2].trim(), '', 'no inline script');
        }
        for (const m of html.matchAll(/\b(?:src|href)="([^"]*)"/g)) {
            if (m[1].startsWith('#')) continue;
            assert.match(m[1], /^\/console\/assets\//, `${m[1]} is one of the console's files`);
        }
        assert.doesNotMatch(html, /\bstyle=|\bon[a-z]+=/i, 'no inline style or handlers');
    });

    test('every file of web/ is served under /console/assets/ with its bytes and type', T, async () => {
        const types = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.html': 'text/html; charset=utf-8' };
        const files = await webFiles();
        assert.ok(files.length >= 10, 'the console has its files');
        for (const f of files) {
            const res = await request(server.url, { path: `/console/assets/${f}` });
            assert.equal(res.status, 200, f);
            assert.equal(res.headers['content-type'], types[path.extname(f)], f);
            assert.deepEqual(res.body, await fs.readFile(path.join(WEB, f)), `${f}: the bytes of web/${f}`);
            assert.equal(res.headers['cache-control'], 'no-cache', f);
            assert.equal(res.headers['x-content-type-options'], 'nosniff', f);
            assert.ok(res.headers.etag, f);
        }
    });

    test('a missing asset is 404 in the API error format, not the page', T, async () => {
        for (const p of ['/console/assets/nope.js', '/console/assets/', '/console/assets/js/../index.html', '/index.html', '/consoles']) {
            assertApiError(await request(server.url, { path: p }), 404, 'page-not-found', p);
        }
    });

    test('If-None-Match: 304 with the validators, by weak comparison and in lists', T, async () => {
        const first = await request(server.url, { path: '/console/assets/js/app.js' });
        const etag = first.headers.etag;
        for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, `  ,${etag} ,`, '*']) {
            const res = await request(server.url, { path: '/console/assets/js/app.js', headers: { 'If-None-Match': inm } });
            assert.equal(res.status, 304, `If-None-Match: ${inm}`);
            assert.equal(res.body.length, 0);
            assert.equal(res.headers.etag, etag);
            assert.equal(res.headers['cache-control'], 'no-cache');
        }
        for (const inm of ['"other"', etag.slice(0, -2) + '"', 'garbage', `${etag.slice(1, -1)}`]) {
            const res = await request(server.url, { path: '/console/assets/js/app.js', headers: { 'If-None-Match': inm } });
            assert.equal(res.status, 200, `If-None-Match: ${inm}`);
        }
        const page = await request(server.url, { path: '/console/stores/abc' });
        const again = await request(server.url, { path: '/', headers: { 'If-None-Match': page.headers.etag } });
        assert.equal(again.status, 304, 'every console path is the same page');
        assertPageHeaders(again, '304');
    });

    test('gzip for clients that accept it, with its own ETag and Vary', T, async () => {
        const plain = await request(server.url, { path: '/console/assets/app.css' });
        const gz = await request(server.url, { path: '/console/assets/app.css', headers: { 'Accept-Encoding': 'gzip, br' } });
        assert.equal(gz.status, 200);
        assert.equal(gz.headers['content-encoding'], 'gzip');
        assert.equal(gz.headers.vary, 'Accept-Encoding');
        assert.equal(plain.headers.vary, 'Accept-Encoding');
        assert.equal(plain.headers['content-encoding'], undefined);
        assert.notEqual(gz.headers.etag, plain.headers.etag, 'each representation has its own strong ETag');
        assert.ok(gz.body.length < plain.body.length);
        assert.deepEqual(zlib.gunzipSync(gz.body), plain.body);
        const refused = await request(server.url, { path: '/console/assets/app.css', headers: { 'Accept-Encoding': 'gzip;q=0' } });
        assert.equal(refused.headers['content-encoding'], undefined);
        const cond = await request(server.url, { path: '/console/assets/app.css', headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': plain.headers.etag } });
        assert.equal(cond.status, 200, 'the plain ETag does not validate the gzip representation');
    });

    test('HEAD, and methods other than GET and HEAD', T, async () => {
        const head = await request(server.url, { method: 'HEAD', path: '/console/' });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        assertPageHeaders(head, 'HEAD');
        const post = await request(server.url, { method: 'POST', path: '/console/', body: 'x' });
        assertApiError(post, 405, 'method-not-allowed');
        const opt = await request(server.url, { method: 'OPTIONS', path: '/console/', headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'GET' } });
        assert.equal(opt.status, 204);
        assert.match(opt.headers['access-control-allow-methods'], /GET, HEAD/);
    });

    test('the console needs no token, and a token does not change it', T, async () => {
        const res = await request(server, { path: '/console/' });
        assert.equal(res.status, 200);
    });
});

describe('API additions used by the console', () => {
    test('the store object counts its records (stats.recordCount)', T, async () => {
        const { store, kvs } = await createStore(client, 'count');
        assert.equal((await kvs.get()).stats.recordCount, 0);
        await kvs.setRecord({ key: 'a', value: 'x' });
        await kvs.setRecord({ key: 'b', value: 'y' });
        await kvs.setRecord({ key: 'b', value: 'z' });
        assert.equal((await kvs.get()).stats.recordCount, 2, 'a replaced record counts once');
        await kvs.deleteRecord('a');
        const raw = dataOf(await request(server, { path: storePath(store.id) }));
        assert.equal(raw.stats.recordCount, 1);
        const listed = await client.keyValueStores().list();
        assert.equal(listed.items.find((s) => s.id === store.id).stats.recordCount, 1, 'also in the store list');
    });

    test('keys carry each record\'s content type (includeContentTypes=1 still taken)', T, async () => {
        const { store, kvs } = await createStore(client, 'types');
        await kvs.setRecord({ key: 'j', value: { a: 1 } });
        await kvs.setRecord({ key: 'p', value: Buffer.from([1, 2, 3]), contentType: 'image/png' });
        await kvs.setRecord({ key: 't', value: 'hi', contentType: 'text/plain; charset=utf-8' });
        // a type must be printable ASCII (tests/api/content-type.test.mjs); one stored before
        // that rule is listed as ISO-8859-1 (tested there, on PostgreSQL)
        const odd = await request(server, {
            method: 'PUT',
            path: `${storePath(store.id)}/records/odd`,
            headers: { 'Content-Type': 'text/x-caf\u00e9' },
            body: 'x',
        });
        assert.equal(odd.status, 400);
        const plain = dataOf(await request(server, { path: `${storePath(store.id)}/keys` }));
        // issue 21: every item carries it now (and modifiedAt); the parameter is still taken
        assert.deepEqual(plain.items.map((i) => i.contentType), ['application/json; charset=utf-8', 'image/png', 'text/plain; charset=utf-8']);
        for (const v of ['1', 'true']) {
            const data = dataOf(await request(server, { path: `${storePath(store.id)}/keys?includeContentTypes=${v}` }));
            assert.deepEqual(data.items.map((i) => [i.key, i.contentType]), [
                ['j', 'application/json; charset=utf-8'],
                ['p', 'image/png'],
                ['t', 'text/plain; charset=utf-8'],
            ]);
            assert.ok(data.items.every((i) => typeof i.recordPublicUrl === 'string' && Number.isInteger(i.size)));
        }
        const paged = dataOf(await request(server, { path: `${storePath(store.id)}/keys?includeContentTypes=1&limit=1&exclusiveStartKey=odd` }));
        assert.deepEqual(paged.items.map((i) => i.contentType), ['image/png']);
        assert.equal(paged.nextExclusiveStartKey, 'p');
        assertApiError(await request(server, { path: `${storePath(store.id)}/keys?includeContentTypes=maybe` }), 400, 'invalid-parameter');
        const viaClient = await client.keyValueStore(store.id).listKeys({ prefix: 't' });
        assert.deepEqual(viaClient.items.map((i) => i.key), ['t'], 'the official client is unaffected');
    });

    test('GET /v2/users/{user}/usage sums the user\'s own stores', T, async () => {
        const user = await createUser(server, 'usage');
        const as = clientAs(server, user.token);
        const empty = dataOf(await request(server, { path: '/v2/users/me/usage', token: user.token }));
        assert.deepEqual(empty, { userId: user.id, username: user.username, stores: 0, namedStores: 0, records: 0, storageBytes: 0 });
        const named = await as.keyValueStores().getOrCreate('usage-a');
        await as.keyValueStore(named.id).setRecord({ key: 'k1', value: 'abc', contentType: 'text/plain' });
        await as.keyValueStore(named.id).setRecord({ key: 'k22', value: 'abcdef', contentType: 'text/plain' });
        const unnamed = await as.keyValueStores().getOrCreate();
        await as.keyValueStore(unnamed.id).setRecord({ key: 'x', value: 'z', contentType: 'text/plain' });
        // a store of someone else shared with the user does not count for them
        const { store: adminStore, kvs } = await createStore(client, 'notcounted');
        await kvs.setRecord({ key: 'big', value: 'x'.repeat(500), contentType: 'text/plain' });
        await request(server, { method: 'PUT', path: `${storePath(adminStore.id)}/shares/${user.username}`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ access: 'READ' }) });
        const u = dataOf(await request(server, { path: '/v2/users/me/usage', token: user.token }));
        assert.equal(u.stores, 2);
        assert.equal(u.namedStores, 1);
        assert.equal(u.records, 3);
        assert.equal(u.storageBytes, 2 + 3 + 3 + 6 + 1 + 1, 'key lengths plus value sizes');
        const byName = dataOf(await request(server, { path: `/v2/users/${user.username}/usage` }));
        assert.deepEqual(byName, u, 'the admin may read any user\'s usage');
        assertApiError(await request(server, { path: '/v2/users/admin/usage', token: user.token }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { path: '/v2/users/nobody-here/usage' }), 404, 'record-not-found');
        assertApiError(await request(server, { path: '/v2/users/me/usage', token: false }), 401, 'token-not-provided');
        assertApiError(await request(server, { method: 'POST', path: '/v2/users/me/usage', token: user.token }), 405, 'method-not-allowed');
    });
});
