// Many clients at once: every acknowledged write is there afterwards, overwrites never mix,
// get-or-create under a race yields one store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import {
    createStore,
    dataOf,
    makeClient,
    mapLimit,
    ms,
    recordPath,
    request,
    startServer,
    uniqueName,
} from '../lib/server.mjs';

const T = { timeout: ms(120_000) };

let server;
let client;

before(async () => {
    server = await startServer();
    client = makeClient(server);
});

after(async () => {
    await server?.stop();
});

const sha = (b) => createHash('sha256').update(b).digest('hex');

describe('concurrent writers', () => {
    test('200 concurrent writers through the client: all succeed, all readable with exact bytes', T, async () => {
        const { kvs } = await createStore(client, 'writers');
        const N = 200;
        const values = Array.from({ length: N }, (_, i) => {
            // mixed sizes: small (sent as is) and > 1 KiB (the client Brotli-compresses them)
            const size = i % 4 === 0 ? 64 * 1024 : i % 4 === 1 ? 3000 : 100 + i;
            return Buffer.concat([Buffer.from(`writer ${i}:`), randomBytes(size)]);
        });
        const results = await Promise.allSettled(
            values.map((value, i) => kvs.setRecord({ key: `w-${String(i).padStart(3, '0')}`, value, contentType: 'application/octet-stream' })),
        );
        const failed = results.map((r, i) => [r, i]).filter(([r]) => r.status === 'rejected');
        assert.equal(failed.length, 0, `failed writes: ${failed.slice(0, 5).map(([r, i]) => `w-${i}: ${r.reason?.message}`).join('; ')}`);

        const keys = (await kvs.listKeys()).items.map((x) => x.key);
        assert.equal(keys.length, N);
        await mapLimit(values, 50, async (value, i) => {
            const key = `w-${String(i).padStart(3, '0')}`;
            const rec = await kvs.getRecord(key, { buffer: true });
            assert.ok(rec, `${key} readable`);
            assert.equal(sha(rec.value), sha(value), `${key} has the exact bytes`);
        });
        const stats = (await kvs.get()).stats;
        assert.equal(stats.writeCount, N, 'writeCount counts every write');
    });

    test('200 concurrent raw PUTs (identity) into four stores, then 200 concurrent reads', T, async () => {
        const stores = [];
        for (let s = 0; s < 4; s++) stores.push((await createStore(client, `multi${s}`)).store);
        const jobs = Array.from({ length: 200 }, (_, i) => ({
            storeId: stores[i % 4].id,
            key: `k${i}`,
            body: Buffer.concat([Buffer.from(`${i}|`), randomBytes(512 + (i % 13) * 97)]),
            ct: `application/x-test-${i}`,
        }));
        const puts = await Promise.all(
            jobs.map((j) => request(server, { method: 'PUT', path: recordPath(j.storeId, j.key), body: j.body, headers: { 'Content-Type': j.ct } })),
        );
        puts.forEach((r, i) => assert.equal(r.status, 201, `PUT ${jobs[i].key}: ${r.status} ${r.text.slice(0, 200)}`));
        const gets = await Promise.all(
            jobs.map((j) => request(server, { path: recordPath(j.storeId, j.key), headers: { 'Accept-Encoding': 'identity' } })),
        );
        gets.forEach((r, i) => {
            assert.equal(r.status, 200, `GET ${jobs[i].key}`);
            assert.equal(r.headers['content-type'], jobs[i].ct, `content type of ${jobs[i].key}`);
            assert.ok(r.body.equals(jobs[i].body), `bytes of ${jobs[i].key}`);
        });
        for (const s of stores) {
            const keys = (await client.keyValueStore(s.id).listKeys()).items;
            assert.equal(keys.length, 50, `store ${s.name} holds its 50 records`);
        }
    });

    test('50 concurrent overwrites of one key end with exactly one written value, never a mix', T, async () => {
        const { store, kvs } = await createStore(client, 'overwrite');
        const N = 50;
        const values = Array.from({ length: N }, (_, i) => {
            const b = Buffer.alloc(256 * 1024, i); // every byte tells the writer apart
            b.write(`writer-${i}`, 0);
            return b;
        });
        const byHash = new Map(values.map((v, i) => [sha(v), i]));
        const puts = await Promise.all(
            values.map((body, i) =>
                request(server, {
                    method: 'PUT',
                    path: recordPath(store.id, 'contended'),
                    body,
                    headers: { 'Content-Type': `application/x-writer-${i}` },
                    chunkSize: 16 * 1024,
                }),
            ),
        );
        puts.forEach((r, i) => assert.equal(r.status, 201, `writer ${i}: ${r.status}`));
        const got = await request(server, { path: recordPath(store.id, 'contended'), headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(got.status, 200);
        const winner = byHash.get(sha(got.body));
        assert.notEqual(winner, undefined, `the final value is one of the written values (length ${got.body.length})`);
        assert.equal(got.headers['content-type'], `application/x-writer-${winner}`, 'content type belongs to the same write');
        const item = (await kvs.listKeys()).items;
        assert.deepEqual(item.map((x) => x.key), ['contended']);
        assert.equal(item[0].size, values[winner].length);
        const stats = (await kvs.get()).stats;
        assert.equal(stats.writeCount, N);
        assert.equal(stats.storageBytes >= values[winner].length && stats.storageBytes < 2 * values[winner].length, true, `storageBytes ${stats.storageBytes} counts one copy`);
    });

    test('concurrent overwrites through the client (compressed) also end with one intact value', T, async () => {
        const { kvs } = await createStore(client, 'overwrite-client');
        const values = Array.from({ length: 50 }, (_, i) => ({ writer: i, payload: `${i}-`.repeat(2000) }));
        await Promise.all(values.map((value) => kvs.setRecord({ key: 'json', value })));
        const rec = await kvs.getRecord('json');
        assert.equal(rec.contentType, 'application/json; charset=utf-8');
        assert.deepEqual(rec.value, values[rec.value.writer]);
    });
});

describe('concurrent store creation', () => {
    test('20 concurrent get-or-create of one name: one store, one 201, the rest 200', T, async () => {
        const name = uniqueName('race');
        const res = await Promise.all(
            Array.from({ length: 20 }, () => request(server, { method: 'POST', path: `/v2/key-value-stores?name=${name}` })),
        );
        const statuses = res.map((r) => r.status).sort();
        assert.equal(statuses.filter((s) => s === 201).length, 1, `exactly one 201: ${statuses}`);
        assert.equal(statuses.filter((s) => s === 200).length, 19);
        const ids = new Set(res.map((r) => dataOf(r, r.status).id));
        assert.equal(ids.size, 1, 'every caller got the same store');
        const listed = (await client.keyValueStores().list()).items.filter((s) => s.name === name);
        assert.equal(listed.length, 1, 'one store of that name in the list');
    });

    test('50 stores created concurrently all exist with distinct IDs', T, async () => {
        const names = Array.from({ length: 50 }, () => uniqueName('par'));
        const created = await Promise.all(names.map((n) => client.keyValueStores().getOrCreate(n)));
        assert.equal(new Set(created.map((s) => s.id)).size, 50);
        const listed = new Set((await client.keyValueStores().list()).items.map((s) => s.name));
        for (const n of names) assert.ok(listed.has(n), `${n} listed`);
    });
});

describe('reads during writes', () => {
    test('a reader polling during overwrites only ever sees complete values', T, async () => {
        const { store } = await createStore(client, 'readers');
        const versions = Array.from({ length: 20 }, (_, i) => Buffer.alloc(128 * 1024, 65 + i));
        const valid = new Set(versions.map(sha));
        await request(server, { method: 'PUT', path: recordPath(store.id, 'r'), body: versions[0], headers: { 'Content-Type': 'application/octet-stream' } });
        let writing = true;
        const reads = [];
        const reader = (async () => {
            while (writing) {
                const r = await request(server, { path: recordPath(store.id, 'r'), headers: { 'Accept-Encoding': 'identity' } });
                reads.push(r);
            }
        })();
        for (const v of versions.slice(1)) {
            const r = await request(server, { method: 'PUT', path: recordPath(store.id, 'r'), body: v, headers: { 'Content-Type': 'application/octet-stream' } });
            assert.equal(r.status, 201);
        }
        writing = false;
        await reader;
        assert.ok(reads.length > 0);
        for (const r of reads) {
            assert.equal(r.status, 200);
            assert.ok(valid.has(sha(r.body)), `a read saw a torn value (length ${r.body.length})`);
        }
    });
});
