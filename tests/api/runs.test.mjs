// Actor runs (api/runs.h, issue 18) with the official apify-client: a run's object, its default
// store through the run's paths, waitForFinish without a blocked worker, listings, an Actor's
// last run, abort, finish, delete, rights, retention, and the 501 of what kvstore does not serve.
// Runs are made with kvstore's own POST /v2/actor-runs (what `kvs run` calls; the clients have no
// method for it) and ended with POST /v2/actor-runs/{id}/finish.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ApifyClient } from 'apify-client';

import {
    CAN_SPAWN,
    NEEDS_SPAWN,
    PNG_1X1,
    assertApiError,
    assertClientError,
    dataOf,
    makeClient,
    ms,
    request,
    startServer,
    uniqueName,
    waitFor,
} from '../lib/server.mjs';
import { clientAs, createUser, share } from '../lib/users.mjs';

const T = { timeout: ms(60_000) };
const JSON_HEADERS = { 'Content-Type': 'application/json' };

let server;
let client;
let admin; // the admin user object (username, id)

before(async () => {
    server = await startServer({ args: ['--threads', '2'] });
    client = makeClient(server);
    admin = await client.user('me').get();
}, { timeout: ms(30_000) });

after(async () => {
    await server?.stop();
});

/** Starts a run of ACTOR as the holder of TOKEN (default: the admin) with BODY's extra fields. */
async function startRun(actor = uniqueName('actor'), { token = server.token, body = {} } = {}) {
    const res = await request(server, {
        method: 'POST',
        path: '/v2/actor-runs',
        token,
        headers: JSON_HEADERS,
        body: JSON.stringify({ actor, ...body }),
    });
    const run = dataOf(res, 201);
    assert.equal(res.headers.location, `${server.url}/v2/actor-runs/${run.id}`);
    return run;
}

/** Ends run ID with STATUS (and EXIT_CODE) as its runner does; returns the raw response. */
function finishRun(id, status = 'SUCCEEDED', exitCode = 0, token = server.token) {
    return request(server, {
        method: 'POST',
        path: `/v2/actor-runs/${id}/finish`,
        token,
        headers: JSON_HEADERS,
        body: JSON.stringify({ status, exitCode }),
    });
}

describe('a run and its default store', () => {
    test('POST /v2/actor-runs makes a run with the platform\'s shape and an unnamed store', T, async () => {
        const actor = uniqueName('shape');
        const run = await startRun(actor, { body: { origin: 'CLI', timeoutSecs: 300, memoryMbytes: 2048 } });
        assert.match(run.id, /^[A-Za-z0-9]{17}$/);
        assert.match(run.actId, /^[A-Za-z0-9]{17}$/);
        assert.equal(run.actorName, actor);
        assert.equal(run.userId, admin.id);
        assert.equal(run.status, 'RUNNING');
        assert.equal(run.finishedAt, null);
        assert.equal(run.exitCode, null);
        assert.equal(run.statusMessage, null);
        assert.equal(run.isStatusMessageTerminal, false);
        assert.deepEqual(run.meta, { origin: 'CLI' });
        assert.equal(run.options.timeoutSecs, 300);
        assert.equal(run.options.memoryMbytes, 2048);
        assert.equal(typeof run.options.build, 'string');
        assert.equal(typeof run.stats.runTimeSecs, 'number');
        for (const f of ['buildId', 'defaultDatasetId', 'defaultRequestQueueId', 'defaultKeyValueStoreId'])
            assert.match(run[f], /^[A-Za-z0-9]{17}$/, f);
        assert.notEqual(run.defaultKeyValueStoreId, run.id);
        assert.equal(run.generalAccess, 'FOLLOW_USER_SETTING');
        assert.equal(run.consoleUrl, `${server.url}/console/runs/${run.id}`);
        assert.ok(!('pricingInfo' in run), 'no pricing: the SDK counts the run as free');

        // the same through the client, with its dates parsed
        const got = await client.run(run.id).get();
        assert.equal(got.id, run.id);
        assert.ok(got.startedAt instanceof Date);
        assert.equal(got.startedAt.toISOString(), run.startedAt);

        // the store: unnamed, the caller's, and it says whose default store it is
        const store = await client.keyValueStore(run.defaultKeyValueStoreId).get();
        assert.equal(store.name, null); // unnamed
        assert.equal(store.userId, admin.id);
        assert.equal(store.actRunId, run.id);
        assert.equal(store.actId, run.actId);
        // a store that is no run's says so with nulls
        const plain = await client.keyValueStores().getOrCreate(uniqueName('plain'));
        const plainGot = await client.keyValueStore(plain.id).get();
        assert.equal(plainGot.actRunId, null);
        // an unnamed store is not listed by default, and this one is unnamed
        const named = await client.keyValueStores().list();
        assert.ok(!named.items.some((s) => s.id === run.defaultKeyValueStoreId));
        await finishRun(run.id);
    });

    test('client.run(id).keyValueStore(): records, keys, the store object, a PNG', T, async () => {
        const run = await startRun();
        const kvs = client.run(run.id).keyValueStore();
        await kvs.setRecord({ key: 'INPUT', value: { query: 'kvstore', n: 3 } });
        await kvs.setRecord({ key: 'OUTPUT', value: PNG_1X1, contentType: 'image/png' });
        const input = await kvs.getRecord('INPUT');
        assert.deepEqual(input.value, { query: 'kvstore', n: 3 });
        const png = await kvs.getRecord('OUTPUT');
        assert.equal(png.contentType, 'image/png');
        assert.ok(Buffer.from(png.value).equals(PNG_1X1));
        const keys = await kvs.listKeys();
        assert.deepEqual(keys.items.map((k) => k.key), ['INPUT', 'OUTPUT']);
        const store = await kvs.get();
        assert.equal(store.id, run.defaultKeyValueStoreId);
        // the same records through the store's own path
        const direct = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('INPUT');
        assert.deepEqual(direct.value, input.value);
        assert.equal(await kvs.getRecord('missing'), undefined);
        await finishRun(run.id);
    });

    test('getRecordPublicUrl() points at kvstore and is read without a token', T, async () => {
        const run = await startRun();
        const kvs = client.run(run.id).keyValueStore();
        await kvs.setRecord({ key: 'OUTPUT', value: { done: true } });
        const url = await client.keyValueStore(run.defaultKeyValueStoreId).getRecordPublicUrl('OUTPUT');
        assert.ok(url.startsWith(`${server.url}/v2/key-value-stores/${run.defaultKeyValueStoreId}/records/OUTPUT`), url);
        const u = new URL(url);
        const res = await request(server.url, { path: u.pathname + u.search, token: null });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json(), { done: true });
        // without the signature a restricted store is not readable anonymously
        const bare = await request(server.url, { path: u.pathname, token: null });
        assertApiError(bare, 401, 'token-not-provided');
        await finishRun(run.id);
    });
});

describe('public links', () => {
    test('publicBaseUrl makes them point at kvstore; without it they point at api.apify.com', T, async () => {
        const run = await startRun();
        const kvs = client.run(run.id).keyValueStore();
        await kvs.setRecord({ key: 'OUTPUT', value: [1, 2] });
        const bare = new ApifyClient({ baseUrl: server.url, token: server.token, maxRetries: 0 });
        const wrong = await bare.keyValueStore(run.defaultKeyValueStoreId).getRecordPublicUrl('OUTPUT');
        assert.ok(wrong.startsWith('https://api.apify.com/v2/'), wrong);
        const keysUrl = await client.keyValueStore(run.defaultKeyValueStoreId).createKeysPublicUrl();
        assert.ok(keysUrl.startsWith(`${server.url}/v2/key-value-stores/${run.defaultKeyValueStoreId}/keys?`), keysUrl);
        const u = new URL(keysUrl);
        const res = await request(server.url, { path: u.pathname + u.search, token: null });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json().data.items.map((k) => k.key), ['OUTPUT']);
        await finishRun(run.id);
    });
});

describe('waitForFinish', () => {
    test('answers as soon as the run ends, with the finished run', T, async () => {
        const run = await startRun();
        const started = Date.now();
        const waiting = client.run(run.id).waitForFinish({ waitSecs: 40 });
        await new Promise((resolve) => setTimeout(resolve, 300));
        dataOf(await finishRun(run.id, 'FAILED', 7));
        const done = await waiting;
        assert.equal(done.status, 'FAILED');
        assert.equal(done.exitCode, 7);
        assert.ok(done.finishedAt instanceof Date);
        // well before its 40 s: the wait ended with the run, not with its time
        assert.ok(Date.now() - started < ms(20_000), `answered after ${Date.now() - started} ms`);
    });

    test('ends with the run still RUNNING when its time is up; a bad value is 400', T, async () => {
        const run = await startRun();
        const got = await client.run(run.id).waitForFinish({ waitSecs: 1 });
        assert.equal(got.status, 'RUNNING');
        const res = await request(server, { path: `/v2/actor-runs/${run.id}?waitForFinish=soon` });
        assertApiError(res, 400, 'invalid-parameter');
        // a finished run answers at once, whatever the wait
        await finishRun(run.id);
        const again = await request(server, { path: `/v2/actor-runs/${run.id}?waitForFinish=600` });
        assert.equal(dataOf(again).status, 'SUCCEEDED');
    });

    test('many waits hold no worker thread (the server has two)', T, async () => {
        const runs = await Promise.all(Array.from({ length: 6 }, () => startRun()));
        const waits = runs.map((r) => request(server, { path: `/v2/actor-runs/${r.id}?waitForFinish=30` }));
        // six requests wait, suspended (the server counts them in /metrics) ...
        await waitFor(async () => /^kvs_run_waits 6$/m.test((await request(server, { path: '/metrics' })).text), {
            timeoutMs: ms(10_000),
            message: 'six waits in /metrics',
        });
        // ... and meanwhile others are answered
        for (let i = 0; i < 5; i++) assert.equal((await request(server, { path: '/health' })).status, 200);
        const store = await client.keyValueStores().getOrCreate(uniqueName('busy'));
        await client.keyValueStore(store.id).setRecord({ key: 'k', value: 1 });
        for (const r of runs) dataOf(await finishRun(r.id));
        for (const w of await Promise.all(waits)) assert.equal(dataOf(w).status, 'SUCCEEDED');
        assert.match((await request(server, { path: '/metrics' })).text, /^kvs_run_waits 0$/m);
    });

    test('an abort and a delete end a wait too', T, async () => {
        const run = await startRun();
        const waiting = request(server, { path: `/v2/actor-runs/${run.id}?waitForFinish=30` });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const aborted = await client.run(run.id).abort();
        assert.equal(aborted.status, 'ABORTING'); // the runner has still to stop it
        const second = await client.run(run.id).abort();
        assert.equal(second.status, 'ABORTED'); // asked twice: nobody else ends it
        assert.equal(dataOf(await waiting).status, 'ABORTED');

        const gone = await startRun();
        const waitGone = request(server, { path: `/v2/actor-runs/${gone.id}?waitForFinish=30` });
        await new Promise((resolve) => setTimeout(resolve, 300));
        dataOf(await finishRun(gone.id));
        const res = await waitGone;
        assert.equal(dataOf(res).status, 'SUCCEEDED');
    });

    test('a server that stops answers its waits at once and exits cleanly', { ...T, skip: NEEDS_SPAWN }, async () => {
        const own = await startServer();
        try {
            const res = await request(own, {
                method: 'POST',
                path: '/v2/actor-runs',
                headers: JSON_HEADERS,
                body: JSON.stringify({ actor: 'stop' }),
            });
            const run = dataOf(res, 201);
            const waiting = request(own, { path: `/v2/actor-runs/${run.id}?waitForFinish=60` });
            await new Promise((resolve) => setTimeout(resolve, 300));
            const stopped = own.stop();
            const answer = await waiting;
            assert.equal(dataOf(answer).status, 'RUNNING');
            await stopped; // exit code 0, within the helper's time limit
        } finally {
            await own.stop();
        }
    });
});

describe('listings and an Actor\'s last run', () => {
    test('client.runs().list(): offset, limit, desc, status', T, async () => {
        const u = await createUser(server, 'lister');
        const c = clientAs(server, u.token);
        const ids = [];
        for (let i = 0; i < 3; i++) {
            ids.push((await startRun('lister-actor', { token: u.token })).id);
            await new Promise((resolve) => setTimeout(resolve, 5));
        }
        dataOf(await finishRun(ids[0], 'SUCCEEDED', 0, u.token));
        const all = await c.runs().list();
        assert.equal(all.total, 3);
        assert.deepEqual(all.items.map((r) => r.id), ids);
        const desc = await c.runs().list({ desc: true, limit: 2 });
        assert.deepEqual(desc.items.map((r) => r.id), [ids[2], ids[1]]);
        assert.equal(desc.total, 3);
        assert.equal(desc.count, 2);
        const off = await c.runs().list({ offset: 1, limit: 1 });
        assert.deepEqual(off.items.map((r) => r.id), [ids[1]]);
        const ok = await c.runs().list({ status: 'SUCCEEDED' });
        assert.deepEqual(ok.items.map((r) => r.id), [ids[0]]);
        const res = await request(server, { path: '/v2/actor-runs?status=RUNNING,SUCCEEDED', token: u.token });
        assert.equal(dataOf(res).total, 3);
        assertApiError(await request(server, { path: '/v2/actor-runs?status=DONE', token: u.token }), 400, 'invalid-parameter');
        assertApiError(await request(server, { path: '/v2/actor-runs?limit=-1', token: u.token }), 400, 'invalid-parameter');
        // the admin's listing holds the admin's runs only
        const adminRuns = await client.runs().list();
        assert.ok(!adminRuns.items.some((r) => ids.includes(r.id)));
    });

    test('client.actor(name).lastRun({status}).keyValueStore().getRecord(OUTPUT)', T, async () => {
        const actor = uniqueName('scraper');
        const first = await startRun(actor);
        await client.run(first.id).keyValueStore().setRecord({ key: 'OUTPUT', value: { run: 1 } });
        dataOf(await finishRun(first.id));
        const second = await startRun(actor);
        await client.run(second.id).keyValueStore().setRecord({ key: 'OUTPUT', value: { run: 2 } });

        const ref = `${admin.username}~${actor}`;
        const last = await client.actor(ref).lastRun().get();
        assert.equal(last.id, second.id);
        const lastOk = client.actor(ref).lastRun({ status: 'SUCCEEDED' });
        assert.equal((await lastOk.get()).id, first.id);
        assert.deepEqual((await lastOk.keyValueStore().getRecord('OUTPUT')).value, { run: 1 });
        assert.deepEqual((await client.actor(ref).lastRun().keyValueStore().getRecord('OUTPUT')).value, { run: 2 });
        // "username/name" (the client makes it username~name), the act ID, and "~name" (the caller's)
        assert.equal((await client.actor(`${admin.username}/${actor}`).lastRun().get()).id, second.id);
        assert.equal((await client.actor(first.actId).lastRun().get()).id, second.id);
        const tilde = await request(server, { path: `/v2/acts/~${actor}/runs/last` });
        assert.equal(dataOf(tilde).id, second.id);
        // origin narrows too
        const byOrigin = await client.actor(ref).lastRun({ origin: 'CLI' }).get();
        assert.equal(byOrigin, undefined);
        const api = await client.actor(ref).lastRun({ origin: 'API' }).get();
        assert.equal(api.id, second.id);
        // the Actor's runs
        const runs = await client.actor(ref).runs().list({ desc: true });
        assert.deepEqual(runs.items.map((r) => r.id), [second.id, first.id]);
        // an Actor without runs has no last run
        assert.equal(await client.actor(`${admin.username}~${uniqueName('none')}`).lastRun().get(), undefined);
        dataOf(await finishRun(second.id));
        // /v2/actors/ is the same as /v2/acts/
        const res = await request(server, { path: `/v2/actors/${ref}/runs/last/key-value-store/records/OUTPUT` });
        assert.deepEqual(res.json(), { run: 2 });
    });
});

describe('status message, abort, finish, delete', () => {
    test('PUT: what Actor.setStatusMessage() sends', T, async () => {
        const run = await startRun();
        const updated = await client.run(run.id).update({ statusMessage: 'Crawled 5 of 10 ✓', level: 'INFO' });
        assert.equal(updated.statusMessage, 'Crawled 5 of 10 ✓');
        assert.equal(updated.isStatusMessageTerminal, false);
        const terminal = await client.run(run.id).update({ statusMessage: 'Done', isStatusMessageTerminal: true });
        assert.equal(terminal.isStatusMessageTerminal, true);
        assert.equal((await client.run(run.id).get()).statusMessage, 'Done');
        // nothing to change: the run as it is
        assert.equal((await client.run(run.id).update({ level: 'INFO' })).statusMessage, 'Done');
        const bad = (body) =>
            request(server, { method: 'PUT', path: `/v2/actor-runs/${run.id}`, headers: JSON_HEADERS, body });
        assertApiError(await bad('{"statusMessage": 5}'), 400, 'invalid-value');
        assertApiError(await bad(JSON.stringify({ statusMessage: 'x'.repeat(3000) })), 400, 'invalid-value');
        assertApiError(await bad('{"generalAccess": "RESTRICTED"}'), 400, 'invalid-value');
        assertApiError(await bad('not json'), 400, 'invalid-request');
        await finishRun(run.id);
    });

    test('finish: a status and an exit code, once; an abort asked for wins', T, async () => {
        const run = await startRun();
        const done = dataOf(await finishRun(run.id, 'FAILED', 3));
        assert.equal(done.status, 'FAILED');
        assert.equal(done.exitCode, 3);
        assert.ok(done.finishedAt);
        assertApiError(await finishRun(run.id, 'SUCCEEDED', 0), 409, 'job-finished');
        const still = await client.run(run.id).abort(); // changes nothing now
        assert.equal(still.status, 'FAILED');

        const other = await startRun();
        assert.equal((await client.run(other.id).abort({ gracefully: true })).status, 'ABORTING');
        const ended = dataOf(await finishRun(other.id, 'SUCCEEDED', 143));
        assert.equal(ended.status, 'ABORTED');
        assert.equal(ended.exitCode, 143);

        const third = await startRun();
        assertApiError(await finishRun(third.id, 'RUNNING', 0), 400, 'invalid-value');
        assertApiError(await finishRun(third.id, 'SUCCEEDED', 1.5), 400, 'invalid-value');
        const timedOut = dataOf(await finishRun(third.id, 'TIMED-OUT', 143));
        assert.equal(timedOut.status, 'TIMED-OUT');
    });

    test('delete: only a finished run; the run and its store go together', T, async () => {
        const run = await startRun();
        await client.run(run.id).keyValueStore().setRecord({ key: 'OUTPUT', value: 1 });
        assertApiError(await request(server, { method: 'DELETE', path: `/v2/actor-runs/${run.id}` }), 409, 'job-not-finished');
        // nor its store, while it runs
        const storeDel = await request(server, { method: 'DELETE', path: `/v2/key-value-stores/${run.defaultKeyValueStoreId}` });
        assertApiError(storeDel, 409, 'job-not-finished');
        await finishRun(run.id);
        await client.run(run.id).delete();
        assert.equal(await client.run(run.id).get(), undefined);
        assert.equal(await client.keyValueStore(run.defaultKeyValueStoreId).get(), undefined);
        assert.equal(await client.run(run.id).keyValueStore().getRecord('OUTPUT'), undefined);

        // deleting the store of a finished run deletes the run
        const other = await startRun();
        await finishRun(other.id);
        await client.keyValueStore(other.defaultKeyValueStoreId).delete();
        assert.equal(await client.run(other.id).get(), undefined);
        assert.ok(!(await client.runs().list()).items.some((r) => r.id === other.id));
    });

    test('bad input to POST /v2/actor-runs', T, async () => {
        const post = (body) =>
            request(server, { method: 'POST', path: '/v2/actor-runs', headers: JSON_HEADERS, body });
        assertApiError(await post(JSON.stringify({ actor: 'Bad_Name' })), 400, 'invalid-value');
        assertApiError(await post(JSON.stringify({ actor: 'ok', memoryMbytes: 64 })), 400, 'invalid-value');
        assertApiError(await post(JSON.stringify({ actor: 'ok', timeoutSecs: -1 })), 400, 'invalid-value');
        assertApiError(await post(JSON.stringify({ actor: 'ok', origin: 'cli' })), 400, 'invalid-value');
        assertApiError(await post(JSON.stringify({ actor: 'ok', generalAccess: 'EVERYONE' })), 400, 'invalid-value');
        assertApiError(await post('[1]'), 400, 'invalid-request');
        assertApiError(await request(server, { method: 'POST', path: '/v2/actor-runs', token: null }), 401, 'token-not-provided');
        // none of these made a run
        const runs = await client.actor(`${admin.username}~ok`).runs().list();
        assert.equal(runs.total, 0);
        // an empty body: an Actor named "local", origin API
        const run = dataOf(await post(''), 201);
        assert.equal(run.actorName, 'local');
        assert.equal(run.meta.origin, 'API');
        await finishRun(run.id);
    });
});

describe('rights: a run has its default store\'s', () => {
    test('another user can neither see, read, change, abort nor delete it', T, async () => {
        const actor = uniqueName('private');
        const run = await startRun(actor);
        await client.run(run.id).keyValueStore().setRecord({ key: 'OUTPUT', value: 'secret' });
        const bob = await createUser(server, 'bob');
        const asBob = clientAs(server, bob.token);
        await assertClientError(asBob.run(run.id).get(), 403, 'insufficient-permissions');
        await assertClientError(asBob.run(run.id).keyValueStore().getRecord('OUTPUT'), 403, 'insufficient-permissions');
        await assertClientError(asBob.run(run.id).keyValueStore().listKeys(), 403, 'insufficient-permissions');
        await assertClientError(asBob.run(run.id).update({ statusMessage: 'x' }), 403, 'insufficient-permissions');
        await assertClientError(asBob.run(run.id).abort(), 403, 'insufficient-permissions');
        await assertClientError(asBob.run(run.id).keyValueStore().setRecord({ key: 'OUTPUT', value: 'x' }), 403, 'insufficient-permissions');
        assertApiError(await finishRun(run.id, 'SUCCEEDED', 0, bob.token), 403, 'insufficient-permissions');
        // the Actor's paths: not there for him
        assert.equal(await asBob.actor(`${admin.username}~${actor}`).lastRun().get(), undefined);
        await assertClientError(asBob.actor(`${admin.username}~${actor}`).runs().list(), 404, 'record-not-found');
        await assertClientError(asBob.actor(run.actId).runs().list(), 404, 'record-not-found');
        assert.equal((await asBob.runs().list()).total, 0);
        // nor for anyone without a token
        const anon = clientAs(server, null);
        await assertClientError(anon.run(run.id).get(), 401, 'token-not-provided');
        assertApiError(await request(server, { path: '/v2/actor-runs', token: null }), 401, 'token-not-provided');
        await finishRun(run.id);
        await assertClientError(asBob.run(run.id).delete(), 403, 'insufficient-permissions');
        assert.equal((await client.run(run.id).get()).status, 'SUCCEEDED');
    });

    test('a shared default store is readable through the run\'s paths by the one it is shared with', T, async () => {
        const run = await startRun();
        await client.run(run.id).keyValueStore().setRecord({ key: 'OUTPUT', value: { shared: true } });
        const carol = await createUser(server, 'carol');
        await share(server, server.token, run.defaultKeyValueStoreId, carol.username, 'READ');
        const asCarol = clientAs(server, carol.token);
        assert.deepEqual((await asCarol.run(run.id).keyValueStore().getRecord('OUTPUT')).value, { shared: true });
        assert.equal((await asCarol.run(run.id).get()).id, run.id);
        // reading is all: no abort, no writes
        await assertClientError(asCarol.run(run.id).abort(), 403, 'insufficient-permissions');
        await assertClientError(asCarol.run(run.id).keyValueStore().setRecord({ key: 'x', value: 1 }), 403, 'insufficient-permissions');
        // a store readable by anyone with its ID makes the run readable by its ID too
        const pub = await startRun(uniqueName('public'), { body: { generalAccess: 'ANYONE_WITH_ID_CAN_READ' } });
        await client.run(pub.id).keyValueStore().setRecord({ key: 'OUTPUT', value: 'open' });
        const anon = clientAs(server, null);
        assert.equal((await anon.run(pub.id).get()).generalAccess, 'ANYONE_WITH_ID_CAN_READ');
        assert.equal((await anon.run(pub.id).keyValueStore().getRecord('OUTPUT')).value, 'open');
        await finishRun(run.id);
        await finishRun(pub.id);
    });
});

describe('what kvstore does not serve: 501, never a 404', () => {
    test('datasets, request queues, the rest of a run, starting Actors, webhooks ...', T, async () => {
        const run = await startRun();
        const paths = [
            ['POST', `/v2/datasets/${run.defaultDatasetId}/items`],
            ['GET', '/v2/datasets'],
            ['GET', `/v2/request-queues/${run.defaultRequestQueueId}/requests/head`],
            ['GET', `/v2/actor-runs/${run.id}/dataset/items`],
            ['GET', `/v2/actor-runs/${run.id}/request-queue`],
            ['GET', `/v2/actor-runs/${run.id}/log`],
            ['POST', `/v2/actor-runs/${run.id}/metamorph`],
            ['POST', `/v2/actor-runs/${run.id}/reboot`],
            ['POST', `/v2/actor-runs/${run.id}/charge`],
            ['POST', `/v2/acts/${admin.username}~x/runs`],
            ['GET', `/v2/acts/${admin.username}~x`],
            ['GET', `/v2/acts/${admin.username}~x/builds`],
            ['GET', `/v2/actor-builds/${run.buildId}`],
            ['GET', '/v2/actor-tasks'],
            ['POST', '/v2/webhooks'],
            ['GET', '/v2/schedules'],
            ['GET', '/v2/datasets/a/b/c/d/e/f/g/h/i'],
        ];
        for (const [method, path] of paths) {
            const res = await request(server, { method, path, token: null, headers: JSON_HEADERS, body: method === 'POST' ? '{}' : undefined });
            assertApiError(res, 501, 'not-implemented', `${method} ${path}`);
            assert.match(res.json().error.message, /kvstore serves key-value stores and Actor runs only/);
        }
        // the client gives the error to its caller as it is
        await assertClientError(client.dataset(run.defaultDatasetId).listItems(), 501, 'not-implemented');
        // paths that are not the platform's stay 404
        assertApiError(await request(server, { path: '/v2/nothing-here' }), 404, 'page-not-found');
        assertApiError(await request(server, { path: `/v2/actor-runs/${run.id}/nothing` }), 404, 'page-not-found');
        await finishRun(run.id);
    });
});

describe('retention', () => {
    test('a run\'s default store and the run expire together', { ...T, skip: NEEDS_SPAWN }, async () => {
        const own = await startServer({ args: ['--unnamed-retention', '1500ms'] });
        try {
            const c = makeClient(own);
            const post = async (actor) =>
                dataOf(await request(own, { method: 'POST', path: '/v2/actor-runs', headers: JSON_HEADERS, body: JSON.stringify({ actor }) }), 201);
            const run = await post('expiring');
            await c.run(run.id).keyValueStore().setRecord({ key: 'OUTPUT', value: 1 });
            dataOf(await request(own, { method: 'POST', path: `/v2/actor-runs/${run.id}/finish`, headers: JSON_HEADERS, body: '{"status":"SUCCEEDED","exitCode":0}' }));
            // a run that is polled (as `kvs run` polls its own) stays, with its store
            const polled = await post('polled');
            let stop = false;
            const poller = (async () => {
                while (!stop) {
                    await c.run(polled.id).get();
                    await new Promise((resolve) => setTimeout(resolve, 200));
                }
            })();
            // (looked for in the listing: reading the run itself would count as a use of it)
            try {
                await waitFor(async () => !(await c.runs().list()).items.some((r) => r.id === run.id), {
                    timeoutMs: ms(15_000),
                    intervalMs: 200,
                    message: 'the run expired',
                });
            } finally {
                stop = true;
                await poller;
            }
            assert.equal(await c.run(run.id).get(), undefined);
            assert.equal(await c.keyValueStore(run.defaultKeyValueStoreId).get(), undefined);
            assert.equal((await c.run(polled.id).get()).status, 'RUNNING');
            assert.ok(await c.keyValueStore(polled.defaultKeyValueStoreId).get());
        } finally {
            await own.stop();
        }
    });
});

if (!CAN_SPAWN) console.log('runs.test.mjs: tests that start servers of their own are skipped (KVS_TEST_URL)');
