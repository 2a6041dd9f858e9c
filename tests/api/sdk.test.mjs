// The `apify` SDK (3.x, crawlee 3.x) against kvstore: a store opened with forceCloud goes over
// HTTP to the server named by APIFY_API_BASE_URL (contract §6.3). The SDK runs "not at home"
// (APIFY_IS_AT_HOME unset), so Actor.init() needs no Actor-run endpoints; its local storage goes
// to a temp directory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';

import { PNG_1X1, allBytes, makeClient, makeTempDir, mapLimit, ms, request, startServer, uniqueName } from '../lib/server.mjs';

const T = { timeout: ms(60_000) };

let server;
let client;
let Actor;
let localDir;

before(async () => {
    server = await startServer();
    client = makeClient(server);
    localDir = await makeTempDir('kvs-sdk-local-');
    // The SDK reads its configuration from the environment when it is first used: set it before importing.
    Object.assign(process.env, {
        APIFY_TOKEN: server.token,
        APIFY_API_BASE_URL: server.url,
        APIFY_API_PUBLIC_BASE_URL: server.url,
        CRAWLEE_STORAGE_DIR: localDir,
        APIFY_LOG_LEVEL: 'WARNING',
    });
    delete process.env.APIFY_IS_AT_HOME;
    ({ Actor } = await import('apify'));
    await Actor.init();
}, { timeout: ms(30_000) });

after(async () => {
    if (Actor) await Actor.exit({ exit: false, timeoutSecs: 10 });
    await server?.stop();
    if (localDir) await fs.rm(localDir, { recursive: true, force: true });
});

/** Opens a fresh remote store with a unique name. */
async function openStore(prefix) {
    const name = uniqueName(prefix);
    const store = await Actor.openKeyValueStore(name, { forceCloud: true });
    return { name, store };
}

describe('Actor.openKeyValueStore(name, { forceCloud: true })', () => {
    test('creates the named store on the server and opens the same one again', T, async () => {
        const { name, store } = await openStore('sdk-open');
        assert.match(store.id, /^[a-zA-Z0-9]{17}$/);
        assert.equal(store.name, name);
        const onServer = await client.keyValueStore(`~${name}`).get();
        assert.ok(onServer, 'the store exists on the server');
        assert.equal(onServer.id, store.id);
        // By ID too (the SDK caches opened stores; a new config-independent open goes through the client).
        const byId = await Actor.openKeyValueStore(store.id, { forceCloud: true });
        assert.equal(byId.id, store.id);
    });

    test('setValue/getValue of JSON', T, async () => {
        const { store } = await openStore('sdk-json');
        const value = { hello: 'world', n: 42, list: [1, 2, 3], nested: { ok: true } };
        await store.setValue('OUTPUT', value);
        assert.deepEqual(await store.getValue('OUTPUT'), value);
        const rec = await client.keyValueStore(store.id).getRecord('OUTPUT');
        assert.deepEqual(rec.value, value);
        assert.match(rec.contentType, /^application\/json/);
    });

    test('setValue/getValue of a Buffer with a content type', T, async () => {
        const { store } = await openStore('sdk-buf');
        await store.setValue('pixel', PNG_1X1, { contentType: 'image/png' });
        const got = await store.getValue('pixel');
        assert.ok(Buffer.isBuffer(got));
        assert.ok(got.equals(PNG_1X1));
        const rec = await client.keyValueStore(store.id).getRecord('pixel');
        assert.equal(rec.contentType, 'image/png');
        const bytes = Buffer.concat([allBytes(8), allBytes(8)]); // > 1 KiB: compressed by the client
        await store.setValue('bytes', bytes, { contentType: 'application/octet-stream' });
        assert.ok((await store.getValue('bytes')).equals(bytes));
    });

    test('setValue/getValue of text and a large JSON value', T, async () => {
        const { store } = await openStore('sdk-text');
        await store.setValue('note', 'plain text ✓', { contentType: 'text/plain; charset=utf-8' });
        assert.equal(await store.getValue('note'), 'plain text ✓');
        const big = { items: Array.from({ length: 3000 }, (_, i) => ({ i, s: `item ${i}` })) };
        await store.setValue('big', big);
        assert.deepEqual(await store.getValue('big'), big);
    });

    test('getValue of a missing key → null (or the default value); recordExists false', T, async () => {
        const { store } = await openStore('sdk-missing');
        assert.equal(await store.getValue('nope'), null);
        assert.deepEqual(await store.getValue('nope', { d: 1 }), { d: 1 });
        assert.equal(await store.recordExists('nope'), false);
        await store.setValue('yes', 1);
        assert.equal(await store.recordExists('yes'), true);
    });

    test('setValue(key, null) deletes the record', T, async () => {
        const { store } = await openStore('sdk-del');
        await store.setValue('temp', { a: 1 });
        assert.deepEqual(await store.getValue('temp'), { a: 1 });
        await store.setValue('temp', null);
        assert.equal(await store.getValue('temp'), null);
        assert.equal(await client.keyValueStore(store.id).getRecord('temp'), undefined);
        await store.setValue('never-existed', null); // deleting a missing record must not throw
    });

    test('forEachKey visits every key once in order, across pages (1,100 keys)', T, async () => {
        const { store } = await openStore('sdk-each');
        const kvs = client.keyValueStore(store.id);
        const keys = Array.from({ length: 1100 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
        await mapLimit(keys, 50, (key) => kvs.setRecord({ key, value: key, contentType: 'text/plain' }));
        const seen = [];
        await store.forEachKey(async (key, index, info) => {
            assert.equal(index, seen.length);
            assert.equal(info.size, Buffer.byteLength(key));
            seen.push(key);
        });
        assert.deepEqual(seen, keys);
        const prefixed = [];
        await store.forEachKey((key) => prefixed.push(key), { prefix: 'key-10' });
        assert.deepEqual(prefixed, keys.filter((k) => k.startsWith('key-10')));
    });

    test('getPublicUrl returns a URL of this server that serves the record', T, async () => {
        const { store } = await openStore('sdk-url');
        await store.setValue('shared.txt', 'public text', { contentType: 'text/plain' });
        const url = new URL(store.getPublicUrl('shared.txt'));
        assert.equal(url.origin, new URL(server.url).origin);
        assert.equal(url.pathname, `/v2/key-value-stores/${store.id}/records/shared.txt`);
        // In this first version every read needs a token (or, where supported, the signature in the URL).
        const res = await request(server, { path: url.pathname + url.search, headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(res.status, 200);
        assert.equal(res.text, 'public text');
        assert.equal(res.headers['content-type'], 'text/plain');
    });

    test('drop() deletes the store on the server', T, async () => {
        const { name, store } = await openStore('sdk-drop');
        await store.setValue('x', 1);
        await store.drop();
        assert.equal(await client.keyValueStore(`~${name}`).get(), undefined);
    });

    test('keys the SDK refuses client-side never reach the server; valid special keys work', T, async () => {
        const { store } = await openStore('sdk-keys');
        await assert.rejects(store.setValue('bad key', 1));
        const key = "ok!-_.'()";
        await store.setValue(key, { special: true });
        assert.deepEqual(await store.getValue(key), { special: true });
    });
});
