// Stores: list, get-or-create, get (by ID and by name forms), update, delete, and the JSON
// shape of the store object (contract §1.1, §1.2, §1.7, §2.1, §2.2, §10).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    assertApiError,
    assertClientError,
    createStore,
    dataOf,
    getStoreRaw,
    makeClient,
    ms,
    request,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';

const T = { timeout: ms(30_000) };
const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const GENERAL_ACCESS = ['FOLLOW_USER_SETTING', 'RESTRICTED', 'ANYONE_WITH_ID_CAN_READ', 'ANYONE_WITH_NAME_CAN_READ'];

let server;
let client;

before(async () => {
    server = await startServer();
    client = makeClient(server);
});

after(async () => {
    await server?.stop();
});

/** Asserts every field of contract §2.1 on a raw (unparsed) store object. */
function assertStoreShape(s, { name } = {}) {
    assert.equal(typeof s, 'object');
    assert.match(s.id, /^[a-zA-Z0-9]{17}$/, 'id: 17 alphanumerics');
    assert.ok('name' in s, 'name present');
    if (name !== undefined) assert.equal(s.name, name, 'name');
    assert.ok(s.name === null || typeof s.name === 'string', 'name: string or null');
    assert.equal(typeof s.userId, 'string', 'userId');
    assert.ok(s.userId.length > 0, 'userId not empty');
    assert.equal(s.username, 'admin', 'username of the owner');
    for (const f of ['createdAt', 'modifiedAt', 'accessedAt']) {
        assert.equal(typeof s[f], 'string', `${f} is a string`);
        assert.match(s[f], ISO_MS_Z, `${f} is ISO-8601 UTC with milliseconds and Z: ${s[f]}`);
        assert.ok(!Number.isNaN(Date.parse(s[f])), `${f} parses`);
    }
    assert.ok(Date.parse(s.modifiedAt) >= Date.parse(s.createdAt), 'modifiedAt >= createdAt');
    assert.ok(Date.parse(s.accessedAt) >= Date.parse(s.createdAt), 'accessedAt >= createdAt');
    for (const f of ['actId', 'actRunId']) {
        assert.ok(f in s, `${f} present`);
        assert.ok(s[f] === null || typeof s[f] === 'string', `${f}: string or null`);
    }
    for (const f of ['consoleUrl', 'keysPublicUrl', 'recordsPublicUrl']) {
        assert.equal(typeof s[f], 'string', `${f} is a string`);
        assert.doesNotThrow(() => new URL(s[f]), `${f} is an absolute URL: ${s[f]}`);
    }
    assert.ok(
        new URL(s.keysPublicUrl).pathname.endsWith(`/v2/key-value-stores/${s.id}/keys`),
        `keysPublicUrl points at the keys of ${s.id}: ${s.keysPublicUrl}`,
    );
    assert.ok(
        new URL(s.recordsPublicUrl).pathname.endsWith(`/v2/key-value-stores/${s.id}/records`),
        `recordsPublicUrl points at the records of ${s.id}: ${s.recordsPublicUrl}`,
    );
    assert.ok('schema' in s, 'schema present');
    assert.ok(s.schema === null || typeof s.schema === 'object', 'schema: object or null');
    assert.equal(typeof s.urlSigningSecretKey, 'string', 'urlSigningSecretKey is given to the owner');
    assert.match(s.urlSigningSecretKey, /^[a-zA-Z0-9]{32}$/, 'urlSigningSecretKey: 32 alphanumerics (§10)');
    assert.ok('generalAccess' in s, 'generalAccess present');
    assert.ok(s.generalAccess === null || GENERAL_ACCESS.includes(s.generalAccess), `generalAccess: ${s.generalAccess}`);
    assert.equal(typeof s.stats, 'object', 'stats');
    for (const f of ['readCount', 'writeCount', 'deleteCount', 'listCount', 'storageBytes']) {
        assert.ok(Number.isInteger(s.stats[f]) && s.stats[f] >= 0, `stats.${f} is a non-negative integer: ${s.stats[f]}`);
    }
    // stats.s3StorageBytes: the same bytes (`apify kvs ls` shows it as the size), absent while 0
    assert.equal(s.stats.s3StorageBytes, s.stats.storageBytes > 0 ? s.stats.storageBytes : undefined, 'stats.s3StorageBytes');
}

/** POST /v2/key-value-stores[?name=NAME] with an optional raw body. */
function postStores(name, { body, headers } = {}) {
    const q = name === undefined ? '' : `?name=${encodeURIComponent(name)}`;
    return request(server, { method: 'POST', path: `/v2/key-value-stores${q}`, body, headers });
}

describe('create and get-or-create', () => {
    test('POST ?name= creates with 201 + Location, then returns the same store with 200', T, async () => {
        const name = uniqueName('goc');
        const before = Date.now();
        const first = await postStores(name);
        const created = dataOf(first, 201);
        const afterCreate = Date.now();
        assertStoreShape(created, { name });
        assert.ok(first.headers.location, 'Location header on 201');
        assert.ok(
            new URL(first.headers.location, server.url).pathname.endsWith(`/v2/key-value-stores/${created.id}`),
            `Location points at the new store: ${first.headers.location}`,
        );
        const createdAt = Date.parse(created.createdAt);
        assert.ok(createdAt >= before - 1000 && createdAt <= afterCreate + 1000, `createdAt ${created.createdAt} is now`);
        assert.deepEqual(created.stats, { ...created.stats, readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 });

        const second = await postStores(name);
        const again = dataOf(second, 200);
        assert.equal(again.id, created.id);
        assert.equal(again.name, name);
        assert.equal(again.createdAt, created.createdAt);
    });

    test('client getOrCreate returns the same store twice', T, async () => {
        const name = uniqueName('client-goc');
        const a = await client.keyValueStores().getOrCreate(name);
        const b = await client.keyValueStores().getOrCreate(name);
        assert.equal(a.id, b.id);
        assert.equal(a.name, name);
        assert.ok(a.createdAt instanceof Date && !Number.isNaN(a.createdAt.getTime()), 'client parses createdAt');
    });

    test('POST without a name creates a new unnamed store each time', T, async () => {
        const a = dataOf(await postStores(undefined), 201);
        const b = dataOf(await postStores(undefined), 201);
        assertStoreShape(a, { name: null });
        assertStoreShape(b, { name: null });
        assert.notEqual(a.id, b.id);
        const c = await client.keyValueStores().getOrCreate();
        assert.equal(c.name ?? null, null);
        assert.notEqual(c.id, a.id);
    });

    test('POST accepts an empty body, {} and {"schema": ...} (what the clients send)', T, async () => {
        const json = { 'Content-Type': 'application/json' };
        dataOf(await postStores(uniqueName('body-none')), 201);
        dataOf(await postStores(uniqueName('body-empty'), { body: '{}', headers: json }), 201);
        const schema = { actorKeyValueStoreSchemaVersion: 1, title: 'test', collections: {} };
        const name = uniqueName('body-schema');
        const s = dataOf(await postStores(name, { body: JSON.stringify({ schema }), headers: json }), 201);
        assert.equal(s.name, name);
    });

    test('IDs are 17 random alphanumerics, distinct across stores', T, async () => {
        const ids = new Set();
        for (let i = 0; i < 20; i++) {
            const s = dataOf(await postStores(undefined), 201);
            assert.match(s.id, /^[a-zA-Z0-9]{17}$/);
            ids.add(s.id);
        }
        assert.equal(ids.size, 20);
    });
});

describe('store names', () => {
    test('a 63-character name is accepted, 64 characters → 400 invalid-value', T, async () => {
        const ok = `n${'a'.repeat(52)}${uniqueName('x').slice(2)}`.slice(0, 63);
        assert.equal(ok.length, 63);
        const s = dataOf(await postStores(ok), 201);
        assert.equal(s.name, ok);
        const tooLong = `${ok}b`;
        assertApiError(await postStores(tooLong), 400, 'invalid-value', '64-char name');
        await assertClientError(client.keyValueStores().getOrCreate(tooLong), 400, 'invalid-value');
    });

    for (const bad of ['under_score', 'dot.name', '-leading', 'trailing-', 'sp ace', 'slash/name', 'tilde~x', 'ünicode', 'emoji-😀']) {
        test(`invalid name ${JSON.stringify(bad)} → 400 invalid-value, nothing created`, T, async () => {
            const res = await postStores(bad);
            assertApiError(res, 400, 'invalid-value', `name ${bad}`);
            const all = await client.keyValueStores().list({ unnamed: true });
            assert.ok(!all.items.some((s) => s.name === bad), 'no store with that name was created');
        });
    }

    test('names with digits, upper case and inner hyphens are valid; names are case-sensitive', T, async () => {
        const base = uniqueName('Case');
        const upper = dataOf(await postStores(base), 201);
        const lower = dataOf(await postStores(base.toLowerCase()), 201);
        assert.notEqual(upper.id, lower.id, 'names differing in case are different stores (§10)');
        assert.equal(upper.name, base);
        const digits = dataOf(await postStores(`9${uniqueName('a-b-c')}`), 201);
        assert.match(digits.name, /^9a-b-c-/);
    });
});

describe('get', () => {
    test('by ID, by admin~name, by ~name and by bare name all give the same store', T, async () => {
        const name = uniqueName('addr');
        const created = await client.keyValueStores().getOrCreate(name);
        for (const ref of [created.id, `admin~${name}`, `~${name}`, name]) {
            const raw = await getStoreRaw(server, ref);
            assertStoreShape(raw, { name });
            assert.equal(raw.id, created.id, `GET ${ref}`);
        }
        // The client turns username/name into username~name.
        const viaClient = await client.keyValueStore(`admin/${name}`).get();
        assert.equal(viaClient.id, created.id);
        assert.equal((await client.keyValueStore(`~${name}`).get()).id, created.id);
    });

    test('a store named like another store\'s ID: the ID resolves to its store, ~name to the named one', T, async () => {
        const a = await client.keyValueStores().getOrCreate(uniqueName('ida'));
        const b = await client.keyValueStores().getOrCreate(a.id); // 17 alphanumerics are a valid name
        assert.notEqual(b.id, a.id);
        assert.equal(b.name, a.id);
        assert.equal((await client.keyValueStore(a.id).get()).id, a.id, 'an ID resolves to the store with that ID');
        assert.equal((await client.keyValueStore(`~${a.id}`).get()).id, b.id, '~name resolves by name');
        assert.equal((await client.keyValueStore(`admin~${a.id}`).get()).id, b.id, 'admin~name resolves by name');
    });

    test('a missing store → 404 record-not-found; client get() returns undefined', T, async () => {
        assertApiError(await request(server, { path: storePath('AAAAAAAAAAAAAAAAA') }), 404, 'record-not-found', 'unknown ID');
        assertApiError(await request(server, { path: storePath(uniqueName('nope')) }), 404, 'record-not-found', 'unknown bare name');
        assertApiError(await request(server, { path: storePath(`admin~${uniqueName('nope')}`) }), 404, 'record-not-found', 'unknown admin~name');
        assertApiError(await request(server, { path: storePath(`~${uniqueName('nope')}`) }), 404, 'record-not-found', 'unknown ~name');
        assertApiError(await request(server, { path: storePath(`nobody~${uniqueName('nope')}`) }), 404, 'record-not-found', 'unknown user');
        assert.equal(await client.keyValueStore('AAAAAAAAAAAAAAAAA').get(), undefined);
        assert.equal(await client.keyValueStore(uniqueName('nope')).get(), undefined);
    });

    test('the client parses the dates of the store object', T, async () => {
        const { store } = await createStore(client, 'dates');
        for (const f of ['createdAt', 'modifiedAt', 'accessedAt']) {
            assert.ok(store[f] instanceof Date && !Number.isNaN(store[f].getTime()), f);
        }
    });
});

describe('update', () => {
    test('rename: the store answers to the new name only', T, async () => {
        const { store, kvs } = await createStore(client, 'rename-from');
        const newName = uniqueName('rename-to');
        const updated = await kvs.update({ name: newName });
        assert.equal(updated.id, store.id);
        assert.equal(updated.name, newName);
        assert.equal((await client.keyValueStore(store.id).get()).name, newName);
        assert.equal((await client.keyValueStore(`~${newName}`).get()).id, store.id);
        assert.equal(await client.keyValueStore(`~${store.name}`).get(), undefined, 'the old name no longer resolves');
        // get-or-create with the old name now makes a new store
        const fresh = await client.keyValueStores().getOrCreate(store.name);
        assert.notEqual(fresh.id, store.id);
    });

    test('the PUT response is the whole updated store object and modifiedAt moves', T, async () => {
        const { store } = await createStore(client, 'upd-shape');
        const raw0 = await getStoreRaw(server, store.id);
        const t0 = Date.now();
        const newName = uniqueName('upd-shape2');
        const res = await request(server, {
            method: 'PUT',
            path: storePath(store.id),
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ name: newName }),
        });
        const raw = dataOf(res, 200);
        assertStoreShape(raw, { name: newName });
        assert.equal(raw.createdAt, raw0.createdAt);
        assert.ok(Date.parse(raw.modifiedAt) >= t0 - 5, `modifiedAt ${raw.modifiedAt} updated (request at ${new Date(t0).toISOString()})`);
    });

    test('generalAccess can be set to each value and is returned', T, async () => {
        const { store, kvs } = await createStore(client, 'access');
        for (const value of ['ANYONE_WITH_ID_CAN_READ', 'ANYONE_WITH_NAME_CAN_READ', 'RESTRICTED', 'FOLLOW_USER_SETTING']) {
            const updated = await kvs.update({ generalAccess: value });
            assert.equal(updated.generalAccess, value);
            assert.equal((await kvs.get()).generalAccess, value);
        }
        assert.equal((await kvs.get()).name, store.name, 'updating generalAccess keeps the name');
    });

    test('an invalid generalAccess → 400, nothing changed', T, async () => {
        const { kvs } = await createStore(client, 'access-bad');
        await kvs.update({ generalAccess: 'RESTRICTED' });
        const err = await assertClientError(kvs.update({ generalAccess: 'EVERYBODY' }), 400);
        assert.equal(typeof err.type, 'string');
        assert.equal((await kvs.get()).generalAccess, 'RESTRICTED');
    });

    test('renaming onto a name that is taken → 400, both stores unchanged', T, async () => {
        const a = await createStore(client, 'taken-a');
        const b = await createStore(client, 'taken-b');
        const err = await assertClientError(b.kvs.update({ name: a.store.name }), 400);
        assert.equal(typeof err.type, 'string');
        assert.equal((await b.kvs.get()).name, b.store.name);
        assert.equal((await client.keyValueStore(`~${a.store.name}`).get()).id, a.store.id);
    });

    test('renaming a store to its own name is fine', T, async () => {
        const { store, kvs } = await createStore(client, 'same');
        const updated = await kvs.update({ name: store.name });
        assert.equal(updated.name, store.name);
    });

    for (const bad of ['bad_name', 'x'.repeat(64), '-x', 'a b']) {
        test(`renaming to invalid name ${JSON.stringify(bad.length > 20 ? `${bad.length} chars` : bad)} → 400 invalid-value`, T, async () => {
            const { store, kvs } = await createStore(client, 'badrename');
            await assertClientError(kvs.update({ name: bad }), 400, 'invalid-value');
            assert.equal((await kvs.get()).name, store.name);
        });
    }

    test('update of a missing store → 404 record-not-found', T, async () => {
        await assertClientError(client.keyValueStore('AAAAAAAAAAAAAAAAA').update({ name: uniqueName('x') }), 404, 'record-not-found');
    });

    test('update by ~name works', T, async () => {
        const { store } = await createStore(client, 'upd-by-name');
        const updated = await client.keyValueStore(`~${store.name}`).update({ generalAccess: 'ANYONE_WITH_ID_CAN_READ' });
        assert.equal(updated.id, store.id);
        assert.equal(updated.generalAccess, 'ANYONE_WITH_ID_CAN_READ');
    });
});

describe('delete', () => {
    test('DELETE → 204 with no body; the store and its records are gone', T, async () => {
        const { store, kvs } = await createStore(client, 'del');
        await kvs.setRecord({ key: 'k', value: { a: 1 } });
        const res = await request(server, { method: 'DELETE', path: storePath(store.id) });
        assert.equal(res.status, 204);
        assert.equal(res.body.length, 0);
        assert.equal(await kvs.get(), undefined);
        assertApiError(await request(server, { path: storePath(store.id) }), 404, 'record-not-found');
        assertApiError(await request(server, { path: `${storePath(store.id)}/records/k` }), 404, 'record-not-found');
        assertApiError(await request(server, { path: `${storePath(store.id)}/keys` }), 404, 'record-not-found');
        // The name is free again.
        const again = await client.keyValueStores().getOrCreate(store.name);
        assert.notEqual(again.id, store.id);
        const keys = await client.keyValueStore(again.id).listKeys();
        assert.equal(keys.items.length, 0, 'a new store of the same name starts empty');
    });

    test('DELETE of a missing store → 404 record-not-found (client delete() swallows it)', T, async () => {
        assertApiError(await request(server, { method: 'DELETE', path: storePath('AAAAAAAAAAAAAAAAA') }), 404, 'record-not-found');
        await client.keyValueStore('AAAAAAAAAAAAAAAAA').delete();
    });

    test('delete by ~name', T, async () => {
        const { store } = await createStore(client, 'del-by-name');
        await client.keyValueStore(`~${store.name}`).delete();
        assert.equal(await client.keyValueStore(store.id).get(), undefined);
    });
});

describe('list', () => {
    /** Creates named stores one after the other (so their createdAt order is the creation order). */
    async function createSeries(prefix, n) {
        const out = [];
        for (let i = 0; i < n; i++) out.push(await client.keyValueStores().getOrCreate(uniqueName(`${prefix}${i}`)));
        return out;
    }

    test('envelope: total, offset, limit, count, desc, items; default limit 1000', T, async () => {
        await createSeries('env', 2);
        const res = await request(server, { path: '/v2/key-value-stores' });
        const data = dataOf(res);
        for (const f of ['total', 'offset', 'limit', 'count']) assert.ok(Number.isInteger(data[f]), `${f} is an integer`);
        assert.equal(typeof data.desc, 'boolean');
        assert.equal(data.desc, false);
        assert.equal(data.offset, 0);
        assert.equal(data.limit, 1000);
        assert.ok(Array.isArray(data.items));
        assert.equal(data.count, data.items.length);
        assert.equal(data.total, data.items.length, 'all stores fit in one page here');
        if ('unnamed' in data) assert.equal(data.unnamed, false);
        for (const s of data.items) assertStoreShape(s);
    });

    test('ascending by createdAt by default, descending with desc', T, async () => {
        const series = await createSeries('order', 3);
        const ids = series.map((s) => s.id);
        const asc = (await client.keyValueStores().list()).items.map((s) => s.id).filter((id) => ids.includes(id));
        assert.deepEqual(asc, ids);
        const desc = await client.keyValueStores().list({ desc: true });
        assert.equal(desc.desc, true);
        assert.deepEqual(desc.items.map((s) => s.id).filter((id) => ids.includes(id)), [...ids].reverse());
        // the whole list is ordered by createdAt
        const all = (await client.keyValueStores().list()).items.map((s) => s.createdAt.getTime());
        assert.deepEqual(all, [...all].sort((x, y) => x - y));
        // raw desc=true spelled out too
        const rawDesc = dataOf(await request(server, { path: '/v2/key-value-stores?desc=true' }));
        assert.equal(rawDesc.desc, true);
        assert.deepEqual(rawDesc.items.map((s) => s.id).filter((id) => ids.includes(id)), [...ids].reverse());
    });

    test('offset and limit page through the list; total counts all', T, async () => {
        const series = await createSeries('page', 4);
        const full = await client.keyValueStores().list();
        const start = full.items.findIndex((s) => s.id === series[0].id);
        assert.ok(start >= 0);
        const page = await client.keyValueStores().list({ offset: start + 1, limit: 2 });
        assert.equal(page.offset, start + 1);
        assert.equal(page.limit, 2);
        assert.equal(page.count, 2);
        assert.equal(page.total, full.total);
        assert.deepEqual(page.items.map((s) => s.id), [series[1].id, series[2].id]);
        const beyond = await client.keyValueStores().list({ offset: full.total + 5 });
        assert.equal(beyond.count, 0);
        assert.deepEqual(beyond.items, []);
        assert.equal(beyond.total, full.total);
    });

    test('limit above 1000 is clamped to 1000', T, async () => {
        const data = dataOf(await request(server, { path: '/v2/key-value-stores?limit=5000' }));
        assert.equal(data.limit, 1000);
    });

    test('unnamed stores are listed only with unnamed=true / 1', T, async () => {
        const unnamed = dataOf(await postStores(undefined), 201);
        const named = await client.keyValueStores().getOrCreate(uniqueName('named'));
        const def = await client.keyValueStores().list();
        assert.ok(!def.items.some((s) => s.id === unnamed.id), 'unnamed store hidden by default');
        assert.ok(def.items.some((s) => s.id === named.id), 'named store listed');
        assert.ok(def.items.every((s) => typeof s.name === 'string'), 'only named stores by default');
        const withUnnamed = await client.keyValueStores().list({ unnamed: true }); // the client sends unnamed=1
        assert.ok(withUnnamed.items.some((s) => s.id === unnamed.id), 'unnamed store listed with unnamed=1');
        assert.ok(withUnnamed.items.some((s) => s.id === named.id), 'named store still listed');
        assert.ok(withUnnamed.total > def.total);
        const raw = dataOf(await request(server, { path: '/v2/key-value-stores?unnamed=true' }));
        assert.ok(raw.items.some((s) => s.id === unnamed.id), 'unnamed=true');
        if ('unnamed' in raw) assert.equal(raw.unnamed, true);
    });

    test('a deleted store disappears from the list', T, async () => {
        const { store, kvs } = await createStore(client, 'gone');
        assert.ok((await client.keyValueStores().list()).items.some((s) => s.id === store.id));
        await kvs.delete();
        assert.ok(!(await client.keyValueStores().list()).items.some((s) => s.id === store.id));
    });

    test('the client async iterator of list() visits every store once', T, async () => {
        const series = await createSeries('iter', 3);
        const seen = [];
        for await (const s of client.keyValueStores().list()) seen.push(s.id);
        for (const s of series) assert.equal(seen.filter((id) => id === s.id).length, 1, `store ${s.name} once`);
        assert.equal(new Set(seen).size, seen.length, 'no store twice');
        const start = seen.indexOf(series[0].id);
        const window = [];
        for await (const s of client.keyValueStores().list({ offset: start, limit: 3 })) window.push(s.id);
        assert.deepEqual(window, series.map((s) => s.id), 'offset + limit through the iterator');
    });
});

describe('stats and timestamps', () => {
    test('stats count writes, reads, deletes and lists; storageBytes follows the records', T, async () => {
        const { store, kvs } = await createStore(client, 'stats');
        const s0 = (await getStoreRaw(server, store.id)).stats;
        assert.deepEqual(
            { r: s0.readCount, w: s0.writeCount, d: s0.deleteCount, l: s0.listCount, b: s0.storageBytes },
            { r: 0, w: 0, d: 0, l: 0, b: 0 },
            'a new store has zero stats',
        );
        const body = 'x'.repeat(100); // below the client's compression threshold: stored as is
        await kvs.setRecord({ key: 'a', value: body, contentType: 'text/plain' });
        await kvs.setRecord({ key: 'b', value: body, contentType: 'text/plain' });
        await kvs.setRecord({ key: 'a', value: body, contentType: 'text/plain' });
        await kvs.getRecord('a');
        await kvs.getRecord('b');
        await kvs.listKeys();
        const s1 = (await getStoreRaw(server, store.id)).stats;
        assert.equal(s1.writeCount, 3, 'writeCount');
        assert.equal(s1.readCount, 2, 'readCount');
        assert.equal(s1.listCount, 1, 'listCount');
        assert.equal(s1.deleteCount, 0, 'deleteCount');
        assert.ok(s1.storageBytes >= 200, `storageBytes ${s1.storageBytes} holds both records`);
        await kvs.deleteRecord('b');
        const s2 = (await getStoreRaw(server, store.id)).stats;
        assert.equal(s2.deleteCount, 1, 'deleteCount');
        assert.ok(s2.storageBytes >= 100 && s2.storageBytes < s1.storageBytes, `storageBytes ${s2.storageBytes} shrinks after a delete`);
        await kvs.deleteRecord('a');
        assert.equal((await getStoreRaw(server, store.id)).stats.storageBytes, 0, 'an empty store has storageBytes 0');
    });

    test('modifiedAt moves on a record write; accessedAt on a record read', T, async () => {
        const { store, kvs } = await createStore(client, 'times');
        const raw0 = await getStoreRaw(server, store.id);
        await new Promise((r) => setTimeout(r, 5)); // let the millisecond clock tick
        const tWrite = Date.now();
        await kvs.setRecord({ key: 'k', value: 'v' });
        const raw1 = await getStoreRaw(server, store.id);
        assert.equal(raw1.createdAt, raw0.createdAt, 'createdAt is fixed');
        assert.ok(Date.parse(raw1.modifiedAt) >= tWrite - 5, `modifiedAt ${raw1.modifiedAt} >= write time ${new Date(tWrite).toISOString()}`);
        await new Promise((r) => setTimeout(r, 5));
        const tRead = Date.now();
        await kvs.getRecord('k');
        const raw2 = await getStoreRaw(server, store.id);
        assert.ok(Date.parse(raw2.accessedAt) >= tRead - 5, `accessedAt ${raw2.accessedAt} >= read time ${new Date(tRead).toISOString()}`);
        assert.equal(raw2.modifiedAt, raw1.modifiedAt, 'a read does not change modifiedAt');
    });

    test('keysPublicUrl serves the keys of the store', T, async () => {
        const { store, kvs } = await createStore(client, 'keysurl');
        await kvs.setRecord({ key: 'one', value: 1 });
        const raw = await getStoreRaw(server, store.id);
        const u = new URL(raw.keysPublicUrl);
        const res = await request(server, { path: u.pathname + u.search });
        const data = dataOf(res);
        assert.deepEqual(data.items.map((i) => i.key), ['one']);
    });
});
