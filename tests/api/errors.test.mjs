// Authentication, error envelopes, unknown routes and methods, bad JSON bodies, the ?method=
// override and CORS (contract §2.4, §3, §8 items 1, 2 and 7, §10).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import {
    assertApiError,
    assertClientError,
    createStore,
    dataOf,
    makeClient,
    ms,
    recordPath,
    request,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';

const T = { timeout: ms(30_000) };

let server;
let client;
let store; // a store with one record 'k', for the tests that only read

before(async () => {
    server = await startServer();
    client = makeClient(server);
    ({ store } = await createStore(client, 'errors'));
    await client.keyValueStore(store.id).setRecord({ key: 'k', value: { hello: 'world' } });
});

after(async () => {
    await server?.stop();
});

/** Every endpoint that needs a token: [method, path, body?]. */
function protectedRequests() {
    const json = { 'Content-Type': 'application/json' };
    return [
        ['GET', '/v2/key-value-stores'],
        ['POST', `/v2/key-value-stores?name=${uniqueName('anon')}`],
        ['GET', storePath(store.id)],
        ['PUT', storePath(store.id), JSON.stringify({ name: uniqueName('anon') }), json],
        ['DELETE', storePath(store.id)],
        ['GET', `${storePath(store.id)}/keys`],
        ['GET', recordPath(store.id, 'k')],
        ['PUT', recordPath(store.id, 'anon'), 'x', { 'Content-Type': 'text/plain' }],
        ['POST', recordPath(store.id, 'anon'), 'x', { 'Content-Type': 'text/plain' }],
        ['DELETE', recordPath(store.id, 'k')],
        ['GET', storePath(`admin~${store.name}`)],
        ['GET', storePath(`~${store.name}`)],
    ];
}

/** Asserts that the shared store and its record are untouched. */
async function assertStoreIntact() {
    const s = await client.keyValueStore(store.id).get();
    assert.equal(s.name, store.name, 'store name unchanged');
    assert.deepEqual((await client.keyValueStore(store.id).getRecord('k')).value, { hello: 'world' }, 'record k unchanged');
    assert.equal(await client.keyValueStore(store.id).getRecord('anon'), undefined, 'no record written');
}

describe('authentication', () => {
    test('no token → 401 token-not-provided on every endpoint, nothing changed', T, async () => {
        for (const [method, path, body, headers] of protectedRequests()) {
            const res = await request(server, { method, path, body, headers, token: false });
            assertApiError(res, 401, 'token-not-provided', `${method} ${path}`);
        }
        const head = await request(server, { method: 'HEAD', path: recordPath(store.id, 'k'), token: false });
        assert.equal(head.status, 401, 'HEAD without token');
        await assertStoreIntact();
    });

    test('a wrong token → 401 user-or-token-not-found (header and ?token=), nothing changed', T, async () => {
        for (const [method, path, body, headers] of protectedRequests()) {
            const res = await request(server, { method, path, body, headers, token: 'wrong-token-123' });
            assertApiError(res, 401, 'user-or-token-not-found', `${method} ${path} (Bearer)`);
            const sep = path.includes('?') ? '&' : '?';
            const res2 = await request(server, { method, path: `${path}${sep}token=wrong-token-123`, body, headers, token: false });
            assertApiError(res2, 401, 'user-or-token-not-found', `${method} ${path} (?token=)`);
        }
        await assertStoreIntact();
    });

    test('a token that differs from the real one only in its last character is refused', T, async () => {
        const t = server.token;
        const near = t.slice(0, -1) + (t.endsWith('a') ? 'b' : 'a');
        assertApiError(await request(server, { path: '/v2/key-value-stores', token: near }), 401, 'user-or-token-not-found');
        assertApiError(await request(server, { path: '/v2/key-value-stores', token: `${t}x` }), 401, 'user-or-token-not-found', 'token + suffix');
        assertApiError(await request(server, { path: '/v2/key-value-stores', token: t.slice(0, -1) }), 401, 'user-or-token-not-found', 'prefix of the token');
    });

    test('the client with a wrong token gets ApifyApiError 401', T, async () => {
        const bad = makeClient({ url: server.url, token: 'nope' });
        await assertClientError(bad.keyValueStores().list(), 401, 'user-or-token-not-found');
        await assertClientError(bad.keyValueStore(store.id).getRecord('k'), 401, 'user-or-token-not-found');
    });

    test('?token= works like the Authorization header', T, async () => {
        const q = `token=${encodeURIComponent(server.token)}`;
        const list = dataOf(await request(server, { path: `/v2/key-value-stores?${q}`, token: false }));
        assert.ok(list.items.some((s) => s.id === store.id));
        const put = await request(server, {
            method: 'PUT',
            path: `${recordPath(store.id, 'via-query')}?${q}`,
            body: 'q',
            headers: { 'Content-Type': 'text/plain' },
            token: false,
        });
        assert.equal(put.status, 201);
        const get = await request(server, { path: `${recordPath(store.id, 'via-query')}?${q}`, token: false, headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(get.status, 200);
        assert.equal(get.text, 'q');
        const del = await request(server, { method: 'DELETE', path: `${recordPath(store.id, 'via-query')}?${q}`, token: false });
        assert.equal(del.status, 204);
    });

    test('GET /health needs no token', T, async () => {
        const res = await request(server, { path: '/health', token: false });
        assert.equal(res.status, 200);
    });

    test('a large upload without a token gets its 401, not a reset connection', T, async () => {
        const res = await request(server, {
            method: 'PUT',
            path: recordPath(store.id, 'anon'),
            body: randomBytes(4 * 1024 * 1024),
            headers: { 'Content-Type': 'application/octet-stream' },
            token: false,
        });
        assertApiError(res, 401, 'token-not-provided');
        await assertStoreIntact();
    });

    test('an Authorization header of another scheme is not a token', T, async () => {
        const res = await request(server, { path: '/v2/key-value-stores', token: false, headers: { Authorization: `Basic ${Buffer.from('admin:x').toString('base64')}` } });
        assert.equal(res.status, 401);
        assertApiError(res, 401);
    });
});

describe('routes and methods', () => {
    // ('/' is the web console: tests/api/console.test.mjs; the platform's paths that kvstore does
    // not serve, /v2/datasets and the like, are 501: tests/api/runs.test.mjs)
    for (const path of [
        '/index.html',
        '/v2',
        '/v2/nope',
        '/v3/key-value-stores',
        '/v2/key-value-stores/STORE/unknown',
        '/v2/key-value-stores/STORE/records/k/extra',
        '/v2/key-value-stores/STORE/keys/extra',
        '/health/extra',
    ]) {
        test(`unknown route ${path} → 404 page-not-found`, T, async () => {
            const res = await request(server, { path: path.replace('STORE', store.id) });
            assertApiError(res, 404, 'page-not-found', path);
        });
    }

    for (const [method, path] of [
        ['DELETE', '/v2/key-value-stores'],
        ['PUT', '/v2/key-value-stores'],
        ['PATCH', '/v2/key-value-stores'],
        ['POST', '/v2/key-value-stores/STORE'],
        ['PATCH', '/v2/key-value-stores/STORE'],
        ['POST', '/v2/key-value-stores/STORE/keys'],
        ['DELETE', '/v2/key-value-stores/STORE/keys'],
        ['PATCH', '/v2/key-value-stores/STORE/records/k'],
    ]) {
        test(`${method} ${path} → 405 method-not-allowed`, T, async () => {
            const res = await request(server, {
                method,
                path: path.replace('STORE', store.id),
                body: method === 'GET' ? undefined : '{}',
                headers: { 'Content-Type': 'application/json' },
            });
            assertApiError(res, 405, 'method-not-allowed', `${method} ${path}`);
            await assertStoreIntact();
        });
    }

    test('a trailing slash is ignored', T, async () => {
        const res = await request(server, { path: `${storePath(store.id)}/` });
        assert.equal(dataOf(res).id, store.id);
    });

    test('?method= overrides the method of a GET (contract §1, §8 item 7)', T, async () => {
        const name = uniqueName('override');
        const created = await request(server, { path: `/v2/key-value-stores?name=${name}&method=POST` });
        assert.equal(dataOf(created, 201).name, name);
        const { kvs } = await createStore(client, 'override-rec');
        await kvs.setRecord({ key: 'gone', value: 1 });
        const del = await request(server, { path: `${storePath((await kvs.get()).id)}/records/gone?method=DELETE` });
        assert.equal(del.status, 204);
        assert.equal(await kvs.getRecord('gone'), undefined);
    });
});

describe('bad JSON bodies', () => {
    const json = { 'Content-Type': 'application/json' };
    for (const [what, body] of [
        ['truncated JSON', '{"name": "x"'],
        ['not JSON at all', 'name=x'],
        ['a trailing comma', '{"name": "x",}'],
    ]) {
        test(`store update with ${what} → 400, nothing changed`, T, async () => {
            const res = await request(server, { method: 'PUT', path: storePath(store.id), body, headers: json });
            assertApiError(res, 400, undefined, what);
            await assertStoreIntact();
        });

        test(`store create with ${what} → 400, nothing created`, T, async () => {
            const name = uniqueName('badjson');
            const res = await request(server, { method: 'POST', path: `/v2/key-value-stores?name=${name}`, body, headers: json });
            assertApiError(res, 400, undefined, what);
            assert.equal(await client.keyValueStore(`~${name}`).get(), undefined, 'no store created');
        });
    }

    for (const [what, body] of [
        ['an array', '[1,2]'],
        ['a string', '"name"'],
        ['name of the wrong type', '{"name": 42}'],
    ]) {
        test(`store update with ${what} → 400, nothing changed`, T, async () => {
            const res = await request(server, { method: 'PUT', path: storePath(store.id), body, headers: json });
            assertApiError(res, 400, undefined, what);
            await assertStoreIntact();
        });
    }
});

describe('CORS', () => {
    const ORIGIN = 'http://example.test:3000';

    function assertAllowsOrigin(res, context) {
        const acao = res.headers['access-control-allow-origin'];
        assert.ok(acao === '*' || acao === ORIGIN, `Access-Control-Allow-Origin (${context}): ${acao}`);
    }

    function listIncludes(header, item) {
        return (header || '')
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .includes(item.toLowerCase());
    }

    test('OPTIONS preflight: 2xx without a token, allows the methods and headers the clients use', T, async () => {
        for (const [path, method] of [
            [recordPath(store.id, 'k'), 'PUT'],
            [recordPath(store.id, 'k'), 'DELETE'],
            ['/v2/key-value-stores', 'POST'],
            [storePath(store.id), 'PUT'],
        ]) {
            const res = await request(server, {
                method: 'OPTIONS',
                path,
                token: false,
                headers: {
                    Origin: ORIGIN,
                    'Access-Control-Request-Method': method,
                    'Access-Control-Request-Headers': 'authorization, content-type, content-encoding',
                },
            });
            assert.ok(res.status >= 200 && res.status < 300, `preflight ${method} ${path}: ${res.status}`);
            assertAllowsOrigin(res, `preflight ${method}`);
            const methods = res.headers['access-control-allow-methods'];
            assert.ok(methods === '*' || listIncludes(methods, method), `Access-Control-Allow-Methods includes ${method}: ${methods}`);
            const allowed = res.headers['access-control-allow-headers'];
            for (const h of ['authorization', 'content-type', 'content-encoding']) {
                // '*' does not cover Authorization in the Fetch standard: it must be listed.
                assert.ok(listIncludes(allowed, h), `Access-Control-Allow-Headers includes ${h}: ${allowed}`);
            }
        }
    });

    test('a normal GET with Origin carries Access-Control-Allow-Origin', T, async () => {
        const res = await request(server, { path: recordPath(store.id, 'k'), headers: { Origin: ORIGIN } });
        assert.equal(res.status, 200);
        assertAllowsOrigin(res, 'GET record');
        const list = await request(server, { path: '/v2/key-value-stores', headers: { Origin: ORIGIN } });
        assertAllowsOrigin(list, 'GET stores');
    });

    test('error responses carry CORS headers too (so a page can read the error)', T, async () => {
        const res = await request(server, { path: '/v2/key-value-stores', token: false, headers: { Origin: ORIGIN } });
        assert.equal(res.status, 401);
        assertAllowsOrigin(res, '401');
        const nf = await request(server, { path: recordPath(store.id, 'missing'), headers: { Origin: ORIGIN } });
        assert.equal(nf.status, 404);
        assertAllowsOrigin(nf, '404');
    });
});

describe('error envelope', () => {
    test('every error is JSON {"error": {"type", "message"}} with Content-Type application/json', T, async () => {
        const cases = [
            [await request(server, { path: '/v2/key-value-stores', token: false }), 401],
            [await request(server, { path: storePath('AAAAAAAAAAAAAAAAA') }), 404],
            [await request(server, { path: recordPath(store.id, 'missing') }), 404],
            [await request(server, { path: recordPath(store.id, 'bad%20key') }), 400],
            [await request(server, { path: '/v2/nope' }), 404],
            [await request(server, { method: 'DELETE', path: '/v2/key-value-stores' }), 405],
        ];
        for (const [res, status] of cases) {
            const err = assertApiError(res, status);
            assert.deepEqual(Object.keys(res.json()), ['error'], 'nothing but "error" at the top level');
            assert.ok(err.message.length < 1000);
        }
    });
});
