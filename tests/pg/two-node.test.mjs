// two-node.test.mjs — two `kvs serve` processes on one PostgreSQL database behave as one
// server: what one acknowledges the other serves at once, replaces are atomic, concurrent
// writers over both lose nothing, the statistics add up exactly, a delete and a revoked token
// take effect on both at once, both start together on an empty database, and a run ended on one
// ends a wait for it on the other.
//
// Runs on the cluster of $KVS_TEST_PG (make test-pg), or on one of its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { PG_URI, psql, startCluster, storageFor } from '../lib/pg.mjs';
import {
    NEEDS_SPAWN,
    dataOf,
    mapLimit,
    ms,
    randomToken,
    recordPath,
    request,
    runKvs,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';
import { createUser, prefixOf } from '../lib/users.mjs';

const T = { timeout: ms(120_000) };
const sleep = (n) => new Promise((r) => setTimeout(r, n));

let cluster = null; // our own, when the run has none
let uri;
let a;
let b;
const token = randomToken();

/** A new named store; returns its ID. */
async function newStore(node) {
    return dataOf(await request(node, { method: 'POST', path: `/v2/key-value-stores?name=${uniqueName('two')}` }), 201).id;
}

function put(node, id, key, body, contentType = 'text/plain') {
    return request(node, { method: 'PUT', path: recordPath(id, key), headers: { 'Content-Type': contentType }, body });
}

/** The store's stats row as SQL sees it, and its records' count and stored bytes. */
async function sqlStats(id) {
    const row = await psql(
        uri,
        `SELECT s.write_count, s.read_count, s.record_count, s.storage_bytes, ` +
            `(SELECT count(*) FROM kvs_records r WHERE r.store_id = s.id), ` +
            `(SELECT coalesce(sum(length(key) + coalesce(blob_size, octet_length(value))), 0) FROM kvs_records r WHERE r.store_id = s.id) ` +
            `FROM kvs_stores s WHERE s.id = '${id}'`,
    );
    const [writes, reads, records, bytes, count, sum] = row.split('|').map(Number);
    return { writes, reads, records, bytes, count, sum };
}

describe('two nodes on one database', { skip: NEEDS_SPAWN }, () => {
    before(async () => {
        if (!PG_URI) cluster = await startCluster();
        const storage = await storageFor(uniqueName('two'), cluster?.uri);
        uri = storage;
        // Both at once on an empty database: both start (schema and admin made once).
        [a, b] = await Promise.all([startServer({ storage, token }), startServer({ storage, token })]);
    });

    after(async () => {
        await a?.stop();
        await b?.stop();
        await cluster?.stop();
    });

    test('both started together on an empty database, with one admin', T, async () => {
        assert.equal(await psql(uri, "SELECT count(*) FROM kvs_users WHERE username = 'admin'"), '1');
        for (const node of [a, b]) {
            assert.equal((await request(node, { path: '/health' })).json().storage, 'postgres');
            assert.equal((await request(node, { path: '/v2/users/me' })).status, 200);
        }
    });

    test('read-after-write across nodes: a poller on B never sees a value older than A acknowledged', T, async () => {
        const id = await newStore(a);
        let acked = -1; // the newest version whose PUT on A has been acknowledged
        let stop = false;
        const violations = [];
        let polls = 0;
        const poller = (async () => {
            let last = -1;
            while (!stop) {
                const floor = acked; // acknowledged before this GET was sent
                const res = await request(b, { path: recordPath(id, 'k') });
                polls++;
                if (res.status === 404 && floor < 0) continue;
                const v = res.status === 200 ? Number(res.text) : NaN;
                if (!(v >= floor)) violations.push(`GET on B saw ${res.status} ${res.text} after ${floor} was acknowledged`);
                if (v < last) violations.push(`GET on B went back from ${last} to ${v}`);
                last = v;
            }
        })();
        for (let v = 0; v < 150; v++) {
            const res = await put(a, id, 'k', String(v));
            assert.equal(res.status, 201, res.text);
            acked = v;
            // and right after the 2xx, B has it
            if (v % 10 === 0) assert.equal((await request(b, { path: recordPath(id, 'k') })).text, String(v));
        }
        stop = true;
        await poller;
        assert.ok(polls > 20, `the poller polled (${polls})`);
        assert.deepEqual(violations, []);
    });

    test('atomic replace: 1 MiB values of all a and all b, each with its content type, never mixed', T, async () => {
        const id = await newStore(a);
        const MiB = 1 << 20;
        const va = Buffer.alloc(MiB, 'a');
        const vb = Buffer.alloc(MiB, 'b');
        assert.equal((await put(a, id, 'big', va, 'text/plain')).status, 201);
        let stop = false;
        const writer = async (node, value, ct) => {
            while (!stop) assert.equal((await put(node, id, 'big', value, ct)).status, 201);
        };
        const seen = { a: 0, b: 0 };
        const reader = async (node) => {
            for (let i = 0; i < 30; i++) {
                const res = await request(node, { path: recordPath(id, 'big') });
                assert.equal(res.status, 200);
                assert.equal(res.body.length, MiB);
                const c = String.fromCharCode(res.body[0]);
                assert.ok(c === 'a' || c === 'b');
                assert.ok(res.body.equals(c === 'a' ? va : vb), 'one value, whole');
                assert.equal(res.headers['content-type'], c === 'a' ? 'text/plain' : 'application/x-b');
                seen[c]++;
            }
        };
        const writers = [writer(a, va, 'text/plain'), writer(b, vb, 'application/x-b')];
        await Promise.all([reader(a), reader(b)]);
        stop = true;
        await Promise.all(writers);
        assert.ok(seen.a + seen.b === 60);
    });

    test('large values (chunks, above 1 MiB): put on A, served whole by B; replaced on B while A and B read, never mixed; the old chunks left to the sweep', T, async () => {
        const id = await newStore(a);
        const MiB = 1 << 20;
        const va = randomBytes(5 * MiB + 3);
        const vb = randomBytes(3 * MiB);
        assert.equal((await put(a, id, 'huge', va, 'application/x-a')).status, 201);
        let res = await request(b, { path: recordPath(id, 'huge') });
        assert.equal(res.status, 200);
        assert.ok(res.body.equals(va), 'B serves what A stored');
        res = await request(b, { path: recordPath(id, 'huge'), headers: { Range: 'bytes=4194300-4194309' } });
        assert.equal(res.status, 206);
        assert.ok(res.body.equals(va.subarray(4194300, 4194310)));
        let stop = false;
        const writer = async () => {
            for (let i = 0; !stop; i++) assert.equal((await put(b, id, 'huge', i % 2 ? va : vb, i % 2 ? 'application/x-a' : 'application/x-b')).status, 201);
        };
        const reader = async (node) => {
            for (let i = 0; i < 8; i++) {
                const r = await request(node, { path: recordPath(id, 'huge') });
                assert.equal(r.status, 200);
                const want = r.headers['content-type'] === 'application/x-a' ? va : vb;
                assert.ok(r.body.equals(want), 'one value, whole');
            }
        };
        const w = writer();
        await Promise.all([reader(a), reader(b)]);
        stop = true;
        await w;
        const [live, dead] = (await psql(uri, `SELECT (SELECT count(*) FROM kvs_records WHERE store_id = '${id}' AND blob IS NOT NULL), (SELECT count(*) FROM kvs_dead_blobs)`)).split('|').map(Number);
        assert.equal(live, 1);
        assert.ok(dead >= 1, 'the replaced values wait for the sweep');
        const stats = await sqlStats(id);
        assert.equal(stats.bytes, stats.sum);
    });

    test('200 concurrent writers over both nodes lose nothing; the stats are exact', T, async () => {
        const id = await newStore(a);
        const WRITERS = 200;
        const PER = 5;
        await mapLimit([...Array(WRITERS).keys()], WRITERS, async (w) => {
            const node = w % 2 ? b : a;
            for (let i = 0; i < PER; i++) {
                const res = await put(node, id, `w${w}-${i}`, `value ${w} ${i}`);
                assert.equal(res.status, 201, res.text);
            }
            // and a hot key every writer overwrites
            assert.equal((await put(node, id, 'hot', `hot ${w}`)).status, 201);
        });
        const keys = [];
        let start = null;
        for (;;) {
            const q = start ? `&exclusiveStartKey=${encodeURIComponent(start)}` : '';
            const page = dataOf(await request(b, { path: `${storePath(id)}/keys?limit=1000${q}` }));
            keys.push(...page.items.map((k) => k.key));
            if (!page.isTruncated) break;
            start = page.nextExclusiveStartKey;
        }
        assert.equal(keys.length, WRITERS * PER + 1);
        const s = await sqlStats(id);
        assert.equal(s.writes, WRITERS * (PER + 1), 'writeCount: every acknowledged PUT');
        assert.equal(s.records, s.count, 'the record count is what SQL counts');
        assert.equal(s.bytes, s.sum, 'storageBytes is what SQL sums');
        assert.equal(s.count, WRITERS * PER + 1);
        const fromApi = dataOf(await request(a, { path: storePath(id) }));
        assert.equal(fromApi.stats.writeCount, WRITERS * (PER + 1));
        assert.equal(fromApi.stats.storageBytes, s.sum);
    });

    test('1,000 reads spread over both nodes are counted within 2 s', T, async () => {
        const id = await newStore(a);
        assert.equal((await put(a, id, 'r', 'x')).status, 201);
        await sleep(1200); // the create's own access settled
        const base = (await sqlStats(id)).reads;
        await mapLimit([...Array(1000).keys()], 16, async (i) => {
            assert.equal((await request(i % 2 ? a : b, { path: recordPath(id, 'r') })).status, 200);
        });
        const t0 = Date.now();
        let reads = base;
        while (reads < base + 1000 && Date.now() - t0 < 2000) {
            await sleep(50);
            reads = (await sqlStats(id)).reads;
        }
        assert.equal(reads - base, 1000, `counted after ${Date.now() - t0} ms`);
    });

    test('a delete on A while B writes: after the 204 every request on B gets 404, the records are swept', T, async () => {
        const id = await newStore(a);
        for (let i = 0; i < 50; i++) assert.equal((await put(b, id, `k${i}`, 'v')).status, 201);
        let deletedAt = null; // when A's 204 arrived
        const late = [];
        let stop = false;
        const writer = async (n) => {
            for (let i = 0; !stop; i++) {
                const sentAt = Date.now();
                const after204 = deletedAt !== null;
                const res = await put(b, id, `w${n}-${i}`, 'v');
                if (after204 && res.status !== 404) late.push(`PUT sent ${sentAt - deletedAt} ms after the 204: ${res.status}`);
                if (res.status !== 201 && res.status !== 404) late.push(`PUT: ${res.status} ${res.text}`);
            }
        };
        const writers = [0, 1, 2, 3].map(writer);
        await sleep(300);
        const del = await request(a, { method: 'DELETE', path: storePath(id) });
        assert.equal(del.status, 204);
        deletedAt = Date.now();
        await sleep(300);
        stop = true;
        await Promise.all(writers);
        assert.deepEqual(late, []);
        assert.equal((await request(b, { path: storePath(id) })).status, 404);
        assert.equal((await request(b, { path: recordPath(id, 'k1') })).status, 404);
        assert.equal((await request(b, { path: `${storePath(id)}/keys` })).status, 404);
        let left = null;
        for (let i = 0; i < 100; i++) {
            left = await psql(uri, `SELECT count(*) FROM kvs_records WHERE store_id = '${id}'`);
            if (left === '0') break;
            await sleep(100);
        }
        assert.equal(left, '0', 'the records were swept');
        assert.equal(await psql(uri, `SELECT count(*) FROM kvs_dead_stores WHERE store_id = '${id}'`), '0');
    });

    test('kvs token create --data postgres://… works on the database of both nodes', T, async () => {
        const r = await runKvs(['token', 'create', 'admin', '--data', uri]);
        assert.equal(r.code, 0, r.stderr);
        const made = r.stdout.trim().split('\n').pop();
        assert.match(made, /^kvs_[A-Za-z0-9]{40}$/);
        for (const node of [a, b]) assert.equal((await request(node, { path: '/v2/users/me', token: made })).status, 200);
        const bad = await runKvs(['user', 'list', '--data', 'postgresql://kvs:secret@/kvs?host=/nonexistent-kvs-dir&connect_timeout=2']);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /^kvs: cannot open the PostgreSQL storage: cannot connect: /);
        assert.ok(!bad.stderr.includes('secret'));
    });

    test('a token revoked on one node is refused on both at once', T, async () => {
        const user = await createUser(a, 'rev');
        for (const node of [a, b]) assert.equal((await request(node, { path: '/v2/users/me', token: user.token })).status, 200);
        const del = await request(b, { method: 'DELETE', path: `/v2/tokens/${prefixOf(user.token)}` });
        assert.equal(del.status, 204, del.text);
        for (const node of [a, b]) {
            const res = await request(node, { path: '/v2/users/me', token: user.token });
            assert.equal(res.status, 401, res.text);
            assert.equal(res.json().error.type, 'user-or-token-not-found');
        }
    });

    // Record GETs resolve the caller and the store from each node's caches (optimistic reads,
    // storage.h): what the other node changes must count on the very next request.
    test('record GETs cached on both nodes see a revoked token, a changed access and a deleted store at once', T, async () => {
        const user = await createUser(a, 'cache');
        const id = dataOf(await request(a, { method: 'POST', path: `/v2/key-value-stores?name=${uniqueName('c')}`, token: user.token }), 201).id;
        assert.equal((await request(a, { method: 'PUT', path: recordPath(id, 'k'), token: user.token, body: 'v' })).status, 201);
        const get = (node, tok = user.token) => request(node, { path: recordPath(id, 'k'), token: tok });
        const warm = async (tok, status) => {
            for (let i = 0; i < 6; i++) for (const node of [a, b]) assert.equal((await get(node, tok)).status, status);
        };
        const setAccess = async (node, generalAccess) => {
            const res = await request(node, {
                method: 'PUT',
                path: storePath(id),
                token: user.token,
                headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify({ generalAccess }),
            });
            assert.equal(res.status, 200, res.text);
        };

        await warm(false, 401); // restricted: anonymous callers refused (from a cached store too)
        await setAccess(a, 'ANYONE_WITH_ID_CAN_READ');
        for (const node of [b, a]) assert.equal((await get(node, false)).status, 200);
        await warm(false, 200);
        await setAccess(b, 'RESTRICTED');
        for (const node of [a, b]) assert.equal((await get(node, false)).status, 401);

        await warm(user.token, 200);
        await psql(uri, `UPDATE kvs_stores SET general_access = general_access WHERE id = '${id}'`); // SQL of its own
        await warm(user.token, 200);
        const putOn = (node) => request(node, { method: 'PUT', path: recordPath(id, 'p'), token: user.token, body: 'w' });
        for (let i = 0; i < 6; i++) for (const node of [a, b]) assert.equal((await putOn(node)).status, 201);
        assert.equal((await request(b, { method: 'DELETE', path: `/v2/tokens/${prefixOf(user.token)}` })).status, 204);
        // The PUTs first: their rights come from the caches, and their transactions find the
        // epoch moved (kvs_write.meta_epoch).
        for (const node of [a, b]) assert.equal((await putOn(node)).status, 401);
        for (const node of [a, b]) assert.equal((await get(node)).status, 401);

        await warm(token, 200); // the admin's
        assert.equal((await request(a, { method: 'DELETE', path: storePath(id) })).status, 204);
        for (const node of [b, a]) assert.equal((await get(node, token)).status, 404);
    });

    test('a run ended on A ends a waitForFinish on B (which looks again each second); an abort on B is seen on A', T, async () => {
        const json = { 'Content-Type': 'application/json' };
        const run = dataOf(await request(a, { method: 'POST', path: '/v2/actor-runs', headers: json, body: '{"actor":"two-nodes"}' }), 201);
        const waiting = request(b, { path: `/v2/actor-runs/${run.id}?waitForFinish=30` });
        await sleep(300);
        const finished = dataOf(await request(a, { method: 'POST', path: `/v2/actor-runs/${run.id}/finish`, headers: json, body: '{"status":"SUCCEEDED","exitCode":0}' }));
        const ended = Date.now();
        const answer = dataOf(await waiting);
        assert.equal(answer.status, 'SUCCEEDED');
        assert.equal(answer.finishedAt, finished.finishedAt);
        assert.ok(Date.now() - ended < ms(10_000), 'B answered with its next look, not at the end of the wait');

        const other = dataOf(await request(b, { method: 'POST', path: '/v2/actor-runs', headers: json, body: '{"actor":"two-nodes"}' }), 201);
        assert.equal(dataOf(await request(b, { method: 'POST', path: `/v2/actor-runs/${other.id}/abort` })).status, 'ABORTING');
        assert.equal(dataOf(await request(a, { path: `/v2/actor-runs/${other.id}` })).status, 'ABORTING');
        // its last run, by name, through either node
        const last = dataOf(await request(a, { path: '/v2/acts/~two-nodes/runs/last' }));
        assert.equal(last.id, other.id);
    });
});
