// Keys listing: byte order, pagination by exclusiveStartKey, limit, prefix and the exact
// envelope the clients depend on (contract §1.3, §2.3, §8 item 5, §10).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    createStore,
    dataOf,
    makeClient,
    mapLimit,
    ms,
    request,
    startServer,
    storePath,
} from '../lib/server.mjs';

const T = { timeout: ms(30_000) };

let server;
let client;

before(async () => {
    server = await startServer();
    client = makeClient(server);
});

after(async () => {
    await server?.stop();
});

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Raw GET of the keys of STORE_ID with QUERY (an object); returns "data". */
async function listRaw(storeId, query = {}) {
    const qs = new URLSearchParams(query).toString();
    return dataOf(await request(server, { path: `${storePath(storeId)}/keys${qs ? `?${qs}` : ''}` }));
}

function assertKeysEnvelope(data) {
    assert.ok(Array.isArray(data.items), 'items');
    assert.ok(Number.isInteger(data.count), 'count');
    assert.equal(data.count, data.items.length, 'count = items.length');
    assert.ok(Number.isInteger(data.limit), 'limit');
    assert.equal(typeof data.isTruncated, 'boolean', 'isTruncated');
    assert.ok('exclusiveStartKey' in data, 'exclusiveStartKey is present (null when absent)');
    assert.ok('nextExclusiveStartKey' in data, 'nextExclusiveStartKey is present (null on the last page)');
    if (data.isTruncated) {
        assert.equal(data.nextExclusiveStartKey, data.items[data.items.length - 1].key, 'nextExclusiveStartKey = last key of the page');
    } else {
        assert.equal(data.nextExclusiveStartKey, null, 'nextExclusiveStartKey is null on the last page');
    }
    for (const item of data.items) {
        assert.equal(typeof item.key, 'string');
        assert.ok(Number.isInteger(item.size) && item.size >= 0, `size of ${item.key}`);
        assert.equal(typeof item.recordPublicUrl, 'string', `recordPublicUrl of ${item.key}`);
    }
}

describe('a store with 2,345 keys', () => {
    // Keys mixing upper and lower case, digits and every allowed punctuation character, so
    // byte order differs from locale order and from case-insensitive order.
    const FIRST = ['!', "'", '(', ')', '-', '.', '0', '9', 'A', 'Z', '_', 'a', 'z'];
    const N = 2345;
    const keys = Array.from({ length: N }, (_, i) => {
        const c = FIRST[i % FIRST.length];
        const mid = i % 3 === 0 ? 'Item' : i % 3 === 1 ? 'item' : 'ITEM';
        return `${c}${mid}-${String(i).padStart(4, '0')}${i % 7 === 0 ? "_x(1)'" : ''}`;
    });
    const sorted = [...keys].sort(byteOrder);
    const valueOf = (key) => `value of ${key} ${'#'.repeat(key.length % 50)}`; // < 1 KiB: stored uncompressed
    let store;
    let kvs;

    before(async () => {
        ({ store, kvs } = await createStore(client, 'many'));
        const results = await mapLimit(keys, 50, async (key) => {
            await kvs.setRecord({ key, value: valueOf(key), contentType: 'text/plain; charset=utf-8' });
            return true;
        });
        assert.equal(results.length, N);
    }, { timeout: ms(180_000) });

    test('the test keys are in a byte order that differs from locale order', () => {
        assert.notDeepEqual(sorted, [...keys].sort((a, b) => a.localeCompare(b)));
        assert.equal(new Set(keys).size, N, 'keys are unique');
    });

    test('pages of 1000 by exclusiveStartKey cover every key once, in byte order', T, async () => {
        const pages = [];
        let cursor;
        for (let i = 0; i < 10; i++) {
            const page = await kvs.listKeys({ limit: 1000, exclusiveStartKey: cursor });
            pages.push(page);
            if (page.nextExclusiveStartKey === null) break;
            cursor = page.nextExclusiveStartKey;
        }
        assert.deepEqual(pages.map((p) => p.count), [1000, 1000, 345]);
        assert.deepEqual(pages.map((p) => p.isTruncated), [true, true, false]);
        assert.equal(pages[2].nextExclusiveStartKey, null);
        const all = pages.flatMap((p) => p.items.map((i) => i.key));
        assert.deepEqual(all, sorted);
    });

    test('raw envelope: exclusiveStartKey null on the first page, echoed after', T, async () => {
        const first = await listRaw(store.id, { limit: '1000' });
        assertKeysEnvelope(first);
        assert.equal(first.exclusiveStartKey, null);
        assert.equal(first.limit, 1000);
        assert.equal(first.isTruncated, true);
        assert.equal(first.nextExclusiveStartKey, sorted[999]);
        const second = await listRaw(store.id, { limit: '1000', exclusiveStartKey: first.nextExclusiveStartKey });
        assertKeysEnvelope(second);
        assert.equal(second.exclusiveStartKey, sorted[999]);
        assert.equal(second.items[0].key, sorted[1000]);
        const last = await listRaw(store.id, { limit: '1000', exclusiveStartKey: second.nextExclusiveStartKey });
        assertKeysEnvelope(last);
        assert.equal(last.isTruncated, false);
        assert.equal(last.nextExclusiveStartKey, null);
        assert.equal(last.count, 345);
    });

    test('default limit is 1000; a limit above 1000 is clamped to 1000', T, async () => {
        const def = await listRaw(store.id);
        assertKeysEnvelope(def);
        assert.equal(def.count, 1000);
        assert.equal(def.limit, 1000);
        assert.equal(def.isTruncated, true);
        const big = await listRaw(store.id, { limit: '5000' });
        assertKeysEnvelope(big);
        assert.equal(big.count, 1000);
        assert.equal(big.limit, 1000);
        assert.deepEqual(big.items.map((i) => i.key), sorted.slice(0, 1000));
    });

    test('small pages (limit 100) walk the whole store', T, async () => {
        const all = [];
        let cursor;
        let pages = 0;
        for (;;) {
            const page = await kvs.listKeys({ limit: 100, exclusiveStartKey: cursor });
            pages++;
            assert.equal(page.limit, 100);
            all.push(...page.items.map((i) => i.key));
            if (!page.isTruncated) {
                assert.equal(page.nextExclusiveStartKey, null);
                break;
            }
            cursor = page.nextExclusiveStartKey;
            assert.ok(pages < 50, 'paging terminates');
        }
        assert.equal(pages, 24);
        assert.deepEqual(all, sorted);
    });

    test('size is the stored byte size of each record', T, async () => {
        const data = await listRaw(store.id);
        for (const item of data.items) assert.equal(item.size, Buffer.byteLength(valueOf(item.key)), `size of ${item.key}`);
    });

    test('recordPublicUrl of each item is a URL of that record, and it serves the record', T, async () => {
        const data = await listRaw(store.id, { limit: '1000' });
        for (const item of data.items) {
            const u = new URL(item.recordPublicUrl);
            const segs = u.pathname.split('/');
            assert.equal(decodeURIComponent(segs[segs.length - 1]), item.key, `recordPublicUrl ${item.recordPublicUrl}`);
            assert.equal(segs[segs.length - 2], 'records');
        }
        for (const item of [data.items[0], data.items[500], data.items[999]]) {
            const u = new URL(item.recordPublicUrl);
            const res = await request(server, { path: u.pathname + u.search, headers: { 'Accept-Encoding': 'identity' } });
            assert.equal(res.status, 200, `GET ${item.recordPublicUrl}`);
            assert.equal(res.text, valueOf(item.key));
        }
    });

    test('exclusiveStartKey at the last key → empty page, not truncated, next null', T, async () => {
        const data = await listRaw(store.id, { exclusiveStartKey: sorted[N - 1] });
        assertKeysEnvelope(data);
        assert.deepEqual(data.items, []);
        assert.equal(data.isTruncated, false);
        assert.equal(data.nextExclusiveStartKey, null);
        assert.equal(data.exclusiveStartKey, sorted[N - 1]);
    });

    test('exclusiveStartKey that is not a key starts after its place in byte order', T, async () => {
        // Between two neighbours: the key plus a character sorting before every key character.
        const i = 1500;
        const between = `${sorted[i]}!`; // sorted[i] < between < sorted[i+1] unless sorted[i+1] starts with it
        assert.ok(byteOrder(between, sorted[i + 1]) < 0);
        const data = await listRaw(store.id, { exclusiveStartKey: between, limit: '10' });
        assertKeysEnvelope(data);
        assert.deepEqual(data.items.map((x) => x.key), sorted.slice(i + 1, i + 11));
        const beforeAll = await listRaw(store.id, { exclusiveStartKey: '!', limit: '5' });
        assert.deepEqual(beforeAll.items.map((x) => x.key), sorted.slice(0, 5), 'a cursor before every key lists from the start');
        const afterAll = await listRaw(store.id, { exclusiveStartKey: 'zzzz' });
        assert.deepEqual(afterAll.items, [], 'a cursor after every key lists nothing');
        assert.equal(afterAll.nextExclusiveStartKey, null);
    });

    test('prefix filters keys and pages within the prefix', T, async () => {
        const prefix = 'a';
        const expected = sorted.filter((k) => k.startsWith(prefix));
        assert.ok(expected.length > 100);
        const one = await listRaw(store.id, { prefix });
        assertKeysEnvelope(one);
        assert.deepEqual(one.items.map((x) => x.key), expected);
        assert.equal(one.isTruncated, false);
        // paged
        const all = [];
        let cursor;
        for (let n = 0; n < 20; n++) {
            const page = await kvs.listKeys({ prefix, limit: 50, exclusiveStartKey: cursor });
            all.push(...page.items.map((x) => x.key));
            if (page.nextExclusiveStartKey === null) break;
            cursor = page.nextExclusiveStartKey;
        }
        assert.deepEqual(all, expected);
        // a longer prefix, with punctuation
        const p2 = "(Item";
        assert.deepEqual((await listRaw(store.id, { prefix: p2 })).items.map((x) => x.key), sorted.filter((k) => k.startsWith(p2)));
        // case matters
        const p3 = 'AITEM';
        assert.deepEqual((await listRaw(store.id, { prefix: p3 })).items.map((x) => x.key), sorted.filter((k) => k.startsWith(p3)));
    });

    test('a prefix with no match → empty items, isTruncated false, next null', T, async () => {
        const data = await listRaw(store.id, { prefix: 'no-such-prefix' });
        assertKeysEnvelope(data);
        assert.deepEqual(data.items, []);
        assert.equal(data.count, 0);
        assert.equal(data.isTruncated, false);
        assert.equal(data.nextExclusiveStartKey, null);
    });

    test('the client async iterator visits every key once, in order', T, async () => {
        const seen = [];
        for await (const item of kvs.listKeys()) {
            seen.push(item.key);
            assert.ok(seen.length <= N, 'the iterator stops (nextExclusiveStartKey must be null on the last page)');
        }
        assert.deepEqual(seen, sorted);
        const limited = [];
        for await (const item of kvs.listKeys({ limit: 1500 })) limited.push(item.key);
        assert.deepEqual(limited, sorted.slice(0, 1500), 'iterator honours an overall limit');
    });
});

describe('small stores', () => {
    test('an empty store lists nothing', T, async () => {
        const { store } = await createStore(client, 'empty');
        const data = await listRaw(store.id);
        assertKeysEnvelope(data);
        assert.deepEqual(data.items, []);
        assert.equal(data.exclusiveStartKey, null);
        assert.equal(data.nextExclusiveStartKey, null);
        assert.equal(data.isTruncated, false);
    });

    test('a page that ends exactly at the last key: isTruncated false (or an empty follow-up page)', T, async () => {
        const { store, kvs } = await createStore(client, 'exact');
        for (const k of ['a', 'b', 'c']) await kvs.setRecord({ key: k, value: k, contentType: 'text/plain' });
        const data = await listRaw(store.id, { limit: '3' });
        assertKeysEnvelope(data);
        assert.deepEqual(data.items.map((x) => x.key), ['a', 'b', 'c']);
        if (data.isTruncated) {
            const next = await listRaw(store.id, { limit: '3', exclusiveStartKey: data.nextExclusiveStartKey });
            assert.deepEqual(next.items, []);
            assert.equal(next.nextExclusiveStartKey, null);
        }
        const two = await listRaw(store.id, { limit: '2' });
        assert.equal(two.isTruncated, true);
        assert.equal(two.nextExclusiveStartKey, 'b');
    });

    test('deleted keys disappear; overwritten keys appear once', T, async () => {
        const { kvs } = await createStore(client, 'churn');
        for (const k of ['x', 'y', 'z']) await kvs.setRecord({ key: k, value: 1 });
        await kvs.setRecord({ key: 'y', value: 2 });
        await kvs.deleteRecord('x');
        assert.deepEqual((await kvs.listKeys()).items.map((i) => i.key), ['y', 'z']);
    });

    test('byte order of short keys: punctuation < digits < upper case < underscore < lower case; prefixes first', T, async () => {
        const { kvs } = await createStore(client, 'order');
        // ('.' alone is left out: the client's URL handling turns /records/. into /records/)
        const ks = ['b', 'a', 'B', 'A', '_', '0', '9', '!', "'", '(', ')', '-', '.x', 'a0', 'aA', 'a!', 'aa', 'Ab', 'ab'];
        await mapLimit(ks, 10, (k) => kvs.setRecord({ key: k, value: k, contentType: 'text/plain' }));
        const listed = (await kvs.listKeys()).items.map((i) => i.key);
        const expected = ['!', "'", '(', ')', '-', '.x', '0', '9', 'A', 'Ab', 'B', '_', 'a', 'a!', 'a0', 'aA', 'aa', 'ab', 'b'];
        assert.deepEqual([...ks].sort(byteOrder), expected, 'the expectation itself is byte order');
        assert.deepEqual(listed, expected);
    });

    test('size reflects a Brotli-compressed upload (stored size, not the decoded one)', T, async () => {
        const { kvs } = await createStore(client, 'sizes');
        const text = 'z'.repeat(10_000); // the client compresses it to a few bytes
        await kvs.setRecord({ key: 'z', value: text, contentType: 'text/plain' });
        await kvs.setRecord({ key: 'small', value: 'tiny', contentType: 'text/plain' });
        const items = Object.fromEntries((await kvs.listKeys()).items.map((i) => [i.key, i.size]));
        assert.equal(items.small, 4);
        assert.ok(items.z > 0 && items.z < 1000, `size of the compressed record: ${items.z}`);
    });

    test('listing keys of a missing store → 404 record-not-found (client throws)', T, async () => {
        const res = await request(server, { path: `${storePath('AAAAAAAAAAAAAAAAA')}/keys` });
        assert.equal(res.status, 404);
        assert.equal(res.json().error.type, 'record-not-found');
    });
});
