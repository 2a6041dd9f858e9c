// The caller and store cache (api/cache.h) never outlives the write that changes what it
// holds: a revoked token, a deleted store, a changed general access (of the store, or of the
// owner's default that it follows) and a removed share are refused on the very next request,
// whether the server itself made the change or another process on the same data directory
// did (the CLI's --data mode, a second server). Each test first sends the same request
// several times, so that the answer is in the cache, then changes what it depends on.
//
// The server runs with --threads 1: every request is then served by the one worker thread
// whose cache the warm-up filled. On a PostgreSQL run (KVS_TEST_BACKEND=pg) record GETs are
// cached too, optimistically (storage.h), and the same answers are due.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    CAN_SPAWN,
    assertApiError,
    dataOf,
    ms,
    recordPath,
    request,
    runKvs,
    setGeneralAccess,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';
import { createUser, prefixOf, setDefaultAccess, share } from '../lib/users.mjs';

const T = { timeout: ms(30_000) };
const skip = !CAN_SPAWN && 'needs a server of its own (and its data directory)';

let server;

before(async () => {
    if (CAN_SPAWN) server = await startServer({ args: ['--threads', '1'] });
});

after(async () => {
    await server?.stop();
});

/** A new user and a store of theirs holding record `k`: { user, store, name }. */
async function userWithStore(prefix) {
    const user = await createUser(server, prefix);
    const name = uniqueName('c');
    const res = await request(server, { method: 'POST', path: `/v2/key-value-stores?name=${name}`, token: user.token });
    const store = dataOf(res, 201);
    const put = await request(server, { method: 'PUT', path: recordPath(store.id, 'k'), token: user.token, body: 'v' });
    assert.equal(put.status, 201);
    return { user, store, name };
}

/** Sends GET PATH as the holder of TOKEN (null: no token) five times; each must answer 200. */
async function warm(path, token, base = server) {
    for (let i = 0; i < 5; i++) {
        const res = await request(base, { path, token: token ?? false });
        assert.equal(res.status, 200, `warm-up ${i}: ${res.text}`);
    }
}

/** A new store readable by anyone with its ID, whose record `k` an anonymous caller has just
 * read five times (warm): { user, store, path }. */
async function warmPublicRecord(prefix) {
    const { user, store } = await userWithStore(prefix);
    await setGeneralAccess(server, store.id, 'ANYONE_WITH_ID_CAN_READ', user.token);
    const path = recordPath(store.id, 'k');
    await warm(path, null);
    return { user, store, path };
}

/** What the CLI's --data takes for the server's storage: its directory, or its postgres:// URI
 * on a PostgreSQL run. */
function dataOfServer() {
    return server.storage ?? server.dataDir;
}

function ok(res, what) {
    assert.equal(res.code, 0, `${what}: ${res.stderr}`);
}

/** GET PATH as TOKEN must be the error STATUS TYPE now, and still a second later (by then the
 * server has committed again: its statistics flush, and it has seen the other process's). */
async function refusedNowAndLater(path, token, status, type) {
    assertApiError(await request(server, { path, token: token ?? false }), status, type, 'the next request');
    await new Promise((r) => setTimeout(r, 1200));
    await request(server, { path: '/health' });
    assertApiError(await request(server, { path, token: token ?? false }), status, type, 'a second later');
}

describe('the cache never serves a change made by this server', { skip }, () => {
    test('a revoked token is refused on the next request', T, async () => {
        const { user, store } = await userWithStore('rev');
        const path = recordPath(store.id, 'k');
        await warm(path, user.token);
        assert.equal((await request(server, { method: 'DELETE', path: `/v2/tokens/${prefixOf(user.token)}` })).status, 204);
        assertApiError(await request(server, { path, token: user.token }), 401, 'user-or-token-not-found');
    });

    test('a deleted store is not found on the next request, by name or by ID', T, async () => {
        const { user, store, name } = await userWithStore('del');
        const byName = recordPath(`${user.username}~${name}`, 'k');
        const byId = recordPath(store.id, 'k');
        await warm(byName, user.token);
        await warm(byId, user.token);
        await warm(`${storePath(store.id)}/keys`, user.token);
        assert.equal((await request(server, { method: 'DELETE', path: storePath(store.id), token: user.token })).status, 204);
        assertApiError(await request(server, { path: byName, token: user.token }), 404, 'record-not-found');
        assertApiError(await request(server, { path: byId, token: user.token }), 404, 'record-not-found');
        assertApiError(await request(server, { path: `${storePath(store.id)}/keys`, token: user.token }), 404, 'record-not-found');
    });

    test('a store made restricted is closed to anonymous readers on the next request', T, async () => {
        const { user, store, path } = await warmPublicRecord('acc');
        await setGeneralAccess(server, store.id, 'RESTRICTED', user.token);
        assertApiError(await request(server, { path, token: false }), 401, 'token-not-provided');
    });

    test('a store opened to anonymous readers is open on the next request', T, async () => {
        // A refusal may come from a cached answer too (the store, found restricted).
        const { user, store } = await userWithStore('open');
        const path = recordPath(store.id, 'k');
        for (let i = 0; i < 3; i++) assertApiError(await request(server, { path, token: false }), 401, 'token-not-provided');
        await setGeneralAccess(server, store.id, 'ANYONE_WITH_ID_CAN_READ', user.token);
        assert.equal((await request(server, { path, token: false })).status, 200);
    });

    test("a store following its owner's default closes when the default does", T, async () => {
        const { user, store } = await userWithStore('def');
        await setGeneralAccess(server, store.id, 'FOLLOW_USER_SETTING', user.token);
        await setDefaultAccess(server, user.token, 'ANYONE_WITH_ID_CAN_READ');
        const path = recordPath(store.id, 'k');
        await warm(path, null);
        await setDefaultAccess(server, user.token, 'RESTRICTED');
        assertApiError(await request(server, { path, token: false }), 401, 'token-not-provided');
    });

    test('a removed share is refused on the next request', T, async () => {
        const { user: owner, store, name } = await userWithStore('own');
        const reader = await createUser(server, 'rdr');
        await share(server, owner.token, store.id, reader.username, 'WRITE');
        const byId = recordPath(store.id, 'k');
        const byName = recordPath(`${owner.username}~${name}`, 'k');
        await warm(byId, reader.token);
        await warm(byName, reader.token);
        const put = () => request(server, { method: 'PUT', path: byId, token: reader.token, body: 'w' });
        assert.equal((await put()).status, 201);
        assert.equal((await put()).status, 201);
        const del = await request(server, { method: 'DELETE', path: `${storePath(store.id)}/shares/${reader.username}`, token: owner.token });
        assert.equal(del.status, 204);
        assertApiError(await request(server, { path: byId, token: reader.token }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { path: byName, token: reader.token }), 404, 'record-not-found');
        assertApiError(await put(), 403, 'insufficient-permissions');
    });
});

describe('the cache never serves a change made by another process', { skip }, () => {
    test('a token revoked with `kvs token revoke --data` is refused on the next request', T, async () => {
        const { user, store } = await userWithStore('crev');
        const path = recordPath(store.id, 'k');
        await warm(path, user.token);
        ok(await runKvs(['token', 'revoke', prefixOf(user.token), '--data', dataOfServer()]), 'token revoke');
        await refusedNowAndLater(path, user.token, 401, 'user-or-token-not-found');
    });

    test('a share removed with `kvs unshare --data` is refused on the next request', T, async () => {
        const { user: owner, store } = await userWithStore('cown');
        const reader = await createUser(server, 'crdr');
        await share(server, owner.token, store.id, reader.username, 'READ');
        const path = recordPath(store.id, 'k');
        await warm(path, reader.token);
        ok(await runKvs(['unshare', store.id, reader.username, '--data', dataOfServer()]), 'unshare');
        await refusedNowAndLater(path, reader.token, 403, 'insufficient-permissions');
    });

    describe('a second server on the same data directory', () => {
        let other;
        before(async () => {
            other = await startServer({ dataDir: server.dataDir, token: server.token, args: ['--threads', '1'] });
        });
        after(async () => {
            await other?.stop();
        });

        test('a store it deletes is not found here on the next request', T, async () => {
            const { user, store, name } = await userWithStore('cdel');
            const byName = recordPath(`${user.username}~${name}`, 'k');
            await warm(byName, user.token);
            const del = await request(other, { method: 'DELETE', path: storePath(store.id), token: user.token });
            assert.equal(del.status, 204);
            await refusedNowAndLater(byName, user.token, 404, 'record-not-found');
        });

        test('a store it makes restricted is closed here on the next request', T, async () => {
            const { user, store, path } = await warmPublicRecord('cacc');
            await setGeneralAccess(other, store.id, 'RESTRICTED', user.token);
            await refusedNowAndLater(path, null, 401, 'token-not-provided');
        });
    });
});

// The answers to record GETs made once and sent again (api/prepared.h): the same bytes and
// headers as a freshly made answer, per variant, and never the answer of an older version.
describe('record answers prepared once', { skip }, () => {
    const HEADERS = ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges', 'x-content-type-options', 'content-security-policy', 'access-control-allow-origin', 'access-control-expose-headers', 'content-disposition'];
    const pick = (res) => Object.fromEntries(HEADERS.filter((h) => res.headers[h] !== undefined).map((h) => [h, res.headers[h]]));

    test('repeated GETs and HEADs get the same answer, with or without Origin, and a new version at once', T, async () => {
        const { user, store } = await userWithStore('prep');
        const path = recordPath(store.id, 'p');
        const putValue = async (body, type) => {
            const res = await request(server, { method: 'PUT', path, token: user.token, body, headers: { 'Content-Type': type } });
            assert.equal(res.status, 201);
            return res.headers.etag;
        };
        const etag1 = await putValue('{"a":1}', 'application/json');
        const get = (headers = {}, method = 'GET') => request(server, { method, path, token: user.token, headers });
        const first = await get();
        assert.equal(first.status, 200);
        assert.equal(first.text, '{"a":1}');
        assert.equal(first.headers.etag, etag1);
        assert.equal(first.headers['access-control-expose-headers'], undefined);
        for (let i = 0; i < 3; i++) {
            const again = await get();
            assert.equal(again.text, '{"a":1}');
            assert.deepEqual(pick(again), pick(first));
            assert.match(again.headers.date, /GMT$/, 'a Date of its own');
            const withOrigin = await get({ Origin: 'https://example.com' });
            assert.equal(withOrigin.text, '{"a":1}');
            assert.match(withOrigin.headers['access-control-expose-headers'], /ETag/);
            assert.deepEqual({ ...pick(withOrigin), 'access-control-expose-headers': undefined }, { ...pick(first), 'access-control-expose-headers': undefined });
            const head = await get({}, 'HEAD');
            assert.equal(head.status, 200);
            assert.equal(head.body.length, 0);
            assert.deepEqual(pick(head), pick(first));
        }
        // A new value (another type too) is answered at once, never the kept one.
        const etag2 = await putValue('<p>x</p>', 'text/html');
        assert.notEqual(etag2, etag1);
        for (let i = 0; i < 2; i++) {
            const res = await get();
            assert.equal(res.text, '<p>x</p>');
            assert.equal(res.headers.etag, etag2);
            assert.equal(res.headers['content-type'], 'text/html');
            assert.equal(res.headers['content-security-policy'], 'sandbox');
        }
        // Other answers of the same version are not the kept one.
        const att = await request(server, { path: `${path}?attachment=1`, token: user.token });
        assert.equal(att.headers['content-disposition'], 'attachment; filename="p"');
        const part = await get({ Range: 'bytes=0-1' });
        assert.equal(part.status, 206);
        assert.equal(part.text, '<p');
        assert.equal((await get({ 'If-None-Match': etag2 })).status, 304);
        assert.equal((await get()).headers['content-disposition'], undefined);
    });

    test('a record made public is answered with its public Cache-Control, and private again after', T, async () => {
        const { user, store } = await userWithStore('pub');
        const path = recordPath(store.id, 'k');
        const get = () => request(server, { path, token: user.token });
        for (let i = 0; i < 2; i++) assert.equal((await get()).headers['cache-control'], 'private, no-cache');
        await setGeneralAccess(server, store.id, 'ANYONE_WITH_ID_CAN_READ', user.token);
        for (let i = 0; i < 2; i++) assert.equal((await get()).headers['cache-control'], 'public, no-cache');
        await setGeneralAccess(server, store.id, 'RESTRICTED', user.token);
        assert.equal((await get()).headers['cache-control'], 'private, no-cache');
    });
});
