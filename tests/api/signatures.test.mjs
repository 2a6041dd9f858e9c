// Signed URLs (contract §4, §10): links made by the official client's getRecordPublicUrl() and
// createKeysPublicUrl() open a restricted store without a token; a record signature opens that
// record only; tampered, foreign, misplaced and expired signatures get 403
// insufficient-permissions with the same message, with or without a token, on GET and HEAD;
// --public-url sets the base of every public link.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { createHmacSignature, createStorageContentSignature } from '@apify/utilities';

import { assertApiError, dataOf, makeClient, ms, recordPath, request, startServer, storePath, uniqueName } from '../lib/server.mjs';
import { clientAs, createUser } from '../lib/users.mjs';

const T = { timeout: ms(30_000) };
const DENIED =
    "Insufficient permissions for the key-value store. Make sure you're passing a correct API token and that it has the required permissions.";

let server;
let client; // the admin's
let owner; // a user owning the stores below
let ownerClient;
let store; // RESTRICTED, records a and b
let other; // another RESTRICTED store of the owner, record a
let stranger;

before(async () => {
    server = await startServer();
    client = makeClient(server);
    owner = await createUser(server, 'owner');
    stranger = await createUser(server, 'stranger');
    ownerClient = clientAs(server, owner.token);
    for (const name of ['signed', 'other']) {
        const s = await ownerClient.keyValueStores().getOrCreate(uniqueName(name));
        const kvs = ownerClient.keyValueStore(s.id);
        await kvs.update({ generalAccess: 'RESTRICTED' });
        await kvs.setRecord({ key: 'a', value: { record: `a of ${name}` } });
        if (name === 'signed') {
            await kvs.setRecord({ key: 'b', value: { record: 'b' } });
            store = s;
        } else {
            other = s;
        }
    }
});

after(async () => {
    await server?.stop();
});

/** The path and query of URL, to send to the server under test. */
function target(url) {
    const u = new URL(url);
    return u.pathname + u.search;
}

/** GET (or METHOD) a public link with the given token (default: none). */
function fetchLink(url, { token = false, method = 'GET' } = {}) {
    return request(server, { path: target(url), token, method, headers: { 'Accept-Encoding': 'identity' } });
}

function assertDenied(res, context) {
    if (res.status !== 403 || res.headers['content-length'] === '0') {
        assert.equal(res.status, 403, `${context}: ${res.text.slice(0, 300)}`);
        return;
    }
    const error = assertApiError(res, 403, 'insufficient-permissions', context);
    assert.equal(error.message, DENIED, `${context}: the message says nothing about which part failed`);
}

/** URL with its signature parameter replaced by SIG. */
function withSignature(url, sig) {
    const u = new URL(url);
    u.searchParams.set('signature', sig);
    return u.toString();
}

/** A different string of the same length and alphabet: the last character changed. */
function tamper(sig) {
    const last = sig[sig.length - 1];
    return sig.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}

describe('record links from the official client', () => {
    test('getRecordPublicUrl opens the record without a token, by ID and by username~name', T, async () => {
        for (const ref of [store.id, `${owner.username}~${store.name}`]) {
            const url = await ownerClient.keyValueStore(ref).getRecordPublicUrl('a');
            assert.match(url, /\/records\/a\?signature=[0-9A-Za-z]+$/, url);
            assert.ok(url.startsWith(server.url), 'the link points at this server');
            const res = await fetchLink(url);
            assert.equal(res.status, 200, `${url}: ${res.text}`);
            assert.deepEqual(res.json(), { record: 'a of signed' });
            // The same without the signature is refused.
            assert.equal((await fetchLink(url.replace(/\?.*/, ''))).status, 401);
        }
    });

    test('HEAD works like GET with a signature', T, async () => {
        const url = await ownerClient.keyValueStore(store.id).getRecordPublicUrl('a');
        const head = await fetchLink(url, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        const get = await fetchLink(url);
        assert.equal(head.headers['content-length'], String(get.body.length), 'the length GET sends');
        assert.equal(head.headers['content-type'], get.headers['content-type']);
        assert.equal((await fetchLink(withSignature(url, tamper(new URL(url).searchParams.get('signature'))), { method: 'HEAD' })).status, 403);
        assert.equal((await fetchLink(url.replace('/records/a', '/records/b'), { method: 'HEAD' })).status, 403);
    });

    test('a record signature opens that record only', T, async () => {
        const url = await ownerClient.keyValueStore(store.id).getRecordPublicUrl('a');
        const sig = new URL(url).searchParams.get('signature');
        // another key of the same store
        assertDenied(await fetchLink(url.replace('/records/a', '/records/b')), 'key b with the signature of a');
        // the same key in another store of the same owner
        assertDenied(await fetchLink(`${server.url}${recordPath(other.id, 'a')}?signature=${sig}`), 'another store');
        // the keys list and the ZIP of the store
        assertDenied(await fetchLink(`${server.url}${storePath(store.id)}/keys?signature=${sig}`), 'keys with a record signature');
        assertDenied(await fetchLink(`${server.url}${storePath(store.id)}/records?signature=${sig}`), 'ZIP with a record signature');
        // the store object does not take signatures at all
        assert.equal((await fetchLink(`${server.url}${storePath(store.id)}?signature=${sig}`)).status, 401);
    });

    test('a valid signature for a key that does not exist: 404 for that record', T, async () => {
        const url = await ownerClient.keyValueStore(store.id).getRecordPublicUrl('missing');
        const res = await fetchLink(url);
        assertApiError(res, 404, 'record-not-found');
    });
});

describe('keys links from the official client', () => {
    test('createKeysPublicUrl lists the keys without a token, each with a working recordPublicUrl', T, async () => {
        const url = await ownerClient.keyValueStore(store.id).createKeysPublicUrl();
        const res = await fetchLink(url);
        assert.equal(res.status, 200, res.text);
        const keys = res.json().data;
        assert.deepEqual(keys.items.map((i) => i.key), ['a', 'b']);
        for (const item of keys.items) {
            assert.match(item.recordPublicUrl, /\?signature=/, 'a signed list gives signed record links');
            const rec = await fetchLink(item.recordPublicUrl);
            assert.equal(rec.status, 200, `${item.recordPublicUrl}: ${rec.text}`);
        }
        // The client's own options ride along: the signature covers none of them.
        const page = await fetchLink(await ownerClient.keyValueStore(store.id).createKeysPublicUrl({ limit: 1, prefix: 'b' }));
        assert.equal(page.status, 200);
        assert.deepEqual(page.json().data.items.map((i) => i.key), ['b']);
    });

    test('by username~name the URL names the store, the signature covers its ID', T, async () => {
        const url = await ownerClient.keyValueStore(`${owner.username}~${store.name}`).createKeysPublicUrl({ expiresInSecs: 600 });
        assert.ok(new URL(url).pathname.includes('~'), url);
        const res = await fetchLink(url);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().data.count, 2);
    });

    test('the ZIP of the records opens with a keys signature', T, async () => {
        const keysUrl = await ownerClient.keyValueStore(store.id).createKeysPublicUrl();
        const res = await fetchLink(keysUrl.replace('/keys?', '/records?'));
        assert.equal(res.status, 200);
        assert.equal(res.body.subarray(0, 2).toString(), 'PK');
    });

    test('an expired link is refused; so is an expired signature made by @apify/utilities', T, async () => {
        const url = await ownerClient.keyValueStore(store.id).createKeysPublicUrl({ expiresInSecs: 1 });
        assert.equal((await fetchLink(url)).status, 200, 'valid at first');
        await sleep(1100);
        assertDenied(await fetchLink(url), 'after expiry');

        const { urlSigningSecretKey } = await ownerClient.keyValueStore(store.id).get();
        const expired = createStorageContentSignature({ resourceId: store.id, urlSigningSecretKey, expiresInMillis: -60_000 });
        assertDenied(await fetchLink(`${server.url}${storePath(store.id)}/keys?signature=${expired}`), 'expired a minute ago');
        const future = createStorageContentSignature({ resourceId: store.id, urlSigningSecretKey, expiresInMillis: 60_000 });
        assert.equal((await fetchLink(`${server.url}${storePath(store.id)}/keys?signature=${future}`)).status, 200);
    });

    test('tampered and foreign keys signatures, and the Python client\'s padded form', T, async () => {
        const { urlSigningSecretKey } = await ownerClient.keyValueStore(store.id).get();
        const { urlSigningSecretKey: otherSecret } = await ownerClient.keyValueStore(other.id).get();
        const good = createStorageContentSignature({ resourceId: store.id, urlSigningSecretKey });
        const keys = (sig, id = store.id) => `${server.url}${storePath(id)}/keys?signature=${encodeURIComponent(sig)}`;

        assert.equal((await fetchLink(keys(good))).status, 200);
        // base64url with '=' padding, as apify-client-python sends it
        const padded = good + '='.repeat((4 - (good.length % 4)) % 4);
        assert.equal((await fetchLink(keys(padded))).status, 200, `padded ${padded}`);

        const decoded = Buffer.from(good, 'base64url').toString();
        const [version, expiresAt, hmac] = decoded.split('.');
        const b64 = (s) => Buffer.from(s).toString('base64url');
        const bad = {
            'tampered hmac': b64(`${version}.${expiresAt}.${tamper(hmac)}`),
            'tampered expiry': b64(`${version}.${Date.now() + 3_600_000}.${hmac}`),
            'unknown version': b64(`1.${expiresAt}.${hmac}`),
            'two parts': b64(`${version}.${hmac}`),
            'not base64': '!!!!',
            'another store\'s signature': createStorageContentSignature({ resourceId: other.id, urlSigningSecretKey: otherSecret }),
            'signed for another store ID': createStorageContentSignature({ resourceId: other.id, urlSigningSecretKey }),
            'signed with another secret': createStorageContentSignature({ resourceId: store.id, urlSigningSecretKey: otherSecret }),
            'a record signature': createHmacSignature(urlSigningSecretKey, 'a'),
        };
        for (const [what, sig] of Object.entries(bad)) assertDenied(await fetchLink(keys(sig)), what);
        // this store's signature on the other store
        assertDenied(await fetchLink(keys(good, other.id)), 'used on another store');
    });
});

describe('who a signature helps, and what the refusal says', () => {
    test('a bad signature is 403 with or without a token; a valid one helps a stranger; the owner never needs one', T, async () => {
        const url = await ownerClient.keyValueStore(store.id).getRecordPublicUrl('a');
        const badUrl = withSignature(url, tamper(new URL(url).searchParams.get('signature')));
        assertDenied(await fetchLink(badUrl), 'no token');
        assertDenied(await fetchLink(badUrl, { token: stranger.token }), "a stranger's token");
        assert.equal((await fetchLink(url, { token: stranger.token })).status, 200, 'a stranger with a valid link');
        assert.equal((await fetchLink(badUrl, { token: owner.token })).status, 200, 'the owner reads with a stale link');
        assert.equal((await fetchLink(badUrl, { token: server.token })).status, 200, 'the admin too');
        // A wrong token is never taken as none, signature or not.
        assertApiError(await fetchLink(url, { token: 'wrong-token-123' }), 401, 'user-or-token-not-found');
    });

    test('on a store open to all, a junk signature changes nothing and gets no signed links', T, async () => {
        const s = await ownerClient.keyValueStores().getOrCreate(uniqueName('open'));
        const kvs = ownerClient.keyValueStore(s.id);
        await kvs.update({ generalAccess: 'ANYONE_WITH_ID_CAN_READ' });
        await kvs.setRecord({ key: 'k', value: 1 });
        const res = await fetchLink(`${server.url}${storePath(s.id)}/keys?signature=junk`);
        assert.equal(res.status, 200);
        const link = res.json().data.items[0].recordPublicUrl;
        assert.ok(link.endsWith(`/records/k`), `a plain link: ${link}`);
        assert.equal((await fetchLink(`${server.url}${recordPath(s.id, 'k')}?signature=junk`)).status, 200);
    });

    test('a signature on a store that does not exist, or by a name, reveals nothing', T, async () => {
        const { urlSigningSecretKey } = await ownerClient.keyValueStore(store.id).get();
        const sig = createHmacSignature(urlSigningSecretKey, 'a');
        assertDenied(await fetchLink(`${server.url}${recordPath('NoSuchStoreId1234', 'a')}?signature=${sig}`), 'unknown ID');
        assertDenied(await fetchLink(`${server.url}${recordPath(`${owner.username}~no-such-store`, 'a')}?signature=${sig}`), 'unknown name');
        assertDenied(await fetchLink(`${server.url}${recordPath('nobody~no-such-store', 'a')}?signature=${sig}`), 'unknown user');
        assertDenied(await fetchLink(`${server.url}${recordPath(`${owner.username}~${other.name}`, 'a')}?signature=${sig}`), 'existing name, foreign signature');
    });

    test('a deleted store\'s links stop working', T, async () => {
        const s = await ownerClient.keyValueStores().getOrCreate(uniqueName('doomed'));
        const kvs = ownerClient.keyValueStore(s.id);
        await kvs.setRecord({ key: 'k', value: 1 });
        const recUrl = await kvs.getRecordPublicUrl('k');
        const keysUrl = await kvs.createKeysPublicUrl();
        assert.equal((await fetchLink(recUrl)).status, 200);
        await kvs.delete();
        assertDenied(await fetchLink(recUrl), 'record of a deleted store');
        assertDenied(await fetchLink(keysUrl), 'keys of a deleted store');
    });

    test('keysPublicUrl and recordsPublicUrl of the store object open without a token', T, async () => {
        const raw = dataOf(await request(server, { path: storePath(store.id), token: owner.token }));
        const keys = await fetchLink(raw.keysPublicUrl);
        assert.equal(keys.status, 200, raw.keysPublicUrl);
        assert.equal(keys.json().data.count, 2);
        const zip = await fetchLink(raw.recordsPublicUrl);
        assert.equal(zip.status, 200, raw.recordsPublicUrl);
    });
});

describe('--public-url', () => {
    test('is the base of every public link: store object, keys, records, Location', T, async () => {
        const base = 'https://kvs.example.com/';
        const srv = await startServer({ args: ['--public-url', base] });
        try {
            const c = makeClient(srv);
            const s = await c.keyValueStores().getOrCreate(uniqueName('pub'));
            const raw = dataOf(await request(srv, { path: storePath(s.id) }));
            for (const f of ['keysPublicUrl', 'recordsPublicUrl', 'consoleUrl']) {
                assert.ok(raw[f].startsWith('https://kvs.example.com/'), `${f}: ${raw[f]}`);
                assert.ok(!raw[f].startsWith('https://kvs.example.com//'), `${f}: one slash: ${raw[f]}`);
            }
            const put = await request(srv, { method: 'PUT', path: recordPath(s.id, 'k'), headers: { 'Content-Type': 'text/plain' }, body: 'v' });
            assert.equal(put.headers.location, `https://kvs.example.com/v2/key-value-stores/${s.id}/records/k`);
            const keys = dataOf(await request(srv, { path: `${storePath(s.id)}/keys` }));
            const link = new URL(keys.items[0].recordPublicUrl);
            assert.equal(link.origin, 'https://kvs.example.com');
            // The link's path and signature work against the real address.
            const res = await request(srv, { path: link.pathname + link.search, token: false });
            assert.equal(res.status, 200);
            assert.equal(res.text, 'v');
        } finally {
            await srv.stop();
        }
    });
});
