// DELETE /v2/users/{user} (issue 21): an admin deletes a user, and their stores go with them
// (records included), with their tokens and the shares they were given; others keep theirs;
// the only admin stays. And `kvs user delete` both ways (--url and --data). Run against
// PostgreSQL too by make test-pg, so both storage back-ends are covered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertApiError, dataOf, makeClient, ms, request, runKvs, startServer, storePath, uniqueName } from '../lib/server.mjs';
import { clientAs, createUser, share } from '../lib/users.mjs';

const T = { timeout: ms(30_000) };

let server;
before(async () => {
    server = await startServer();
});
after(async () => {
    await server?.stop();
});

const del = (user, token) => request(server, { method: 'DELETE', path: `/v2/users/${encodeURIComponent(user)}`, token });

describe('DELETE /v2/users/{user}', () => {
    test('the user, their tokens, their stores with their records and the shares they were given go; others keep theirs', T, async () => {
        const alice = await createUser(server, 'alice');
        const bob = await createUser(server, 'bob');
        const asAlice = clientAs(server, alice.token);
        const asBob = clientAs(server, bob.token);
        const named = await asAlice.keyValueStores().getOrCreate(uniqueName('a'));
        const unnamed = await asAlice.keyValueStores().getOrCreate();
        await asAlice.keyValueStore(named.id).setRecord({ key: 'k', value: { v: 1 } });
        await asAlice.keyValueStore(unnamed.id).setRecord({ key: 'k', value: 'x' });
        const bobs = await asBob.keyValueStores().getOrCreate(uniqueName('b'));
        await asBob.keyValueStore(bobs.id).setRecord({ key: 'k', value: 'bob' });
        await share(server, alice.token, named.id, bob.username, 'WRITE'); // alice's, shared with bob
        await share(server, bob.token, bobs.id, alice.username, 'READ'); // bob's, shared with alice
        // warm the caches of who a token is and what a store is (api/cache.h)
        assert.equal((await asAlice.keyValueStore(named.id).getRecord('k')).value.v, 1);
        assert.equal((await asBob.keyValueStore(named.id).getRecord('k')).value.v, 1);

        const usage = dataOf(await request(server, { path: `/v2/users/${alice.username}/usage` }));
        assert.equal(usage.stores, 2, 'the console and the CLI say this before deleting');
        const res = await del(alice.username);
        assert.equal(res.status, 204, res.text);
        assert.equal(res.body.length, 0);

        // refused from the very next request on, also where the caches had them
        assertApiError(await request(server, { path: '/v2/users/me', token: alice.token }), 401, 'user-or-token-not-found');
        assertApiError(await request(server, { path: `${storePath(bobs.id)}/records/k`, token: alice.token }), 401, 'user-or-token-not-found');
        assertApiError(await request(server, { path: `/v2/users/${alice.username}` }), 404, 'record-not-found');
        assertApiError(await request(server, { path: `/v2/users/${alice.id}` }), 404, 'record-not-found');
        // her stores and records are gone, for the admin and for bob, who had a share
        for (const id of [named.id, unnamed.id]) {
            assertApiError(await request(server, { path: storePath(id) }), 404, 'record-not-found');
            assertApiError(await request(server, { path: `${storePath(id)}/records/k` }), 404, 'record-not-found');
        }
        assert.equal(await asBob.keyValueStore(named.id).getRecord('k'), undefined);
        const bobsList = await asBob.keyValueStores().list({ unnamed: true });
        assert.deepEqual(bobsList.items.map((s) => s.id), [bobs.id]);
        // bob's own store is intact, and no longer shared with anyone
        assert.equal((await asBob.keyValueStore(bobs.id).getRecord('k')).value, 'bob');
        assert.deepEqual(dataOf(await request(server, { path: `${storePath(bobs.id)}/shares`, token: bob.token })).items, []);
        // deleting again: no such user; the name can be taken again, with nothing of before
        assertApiError(await del(alice.username), 404, 'record-not-found');
        const again = await createUser(server, 'x', { username: alice.username });
        assert.notEqual(again.id, alice.id);
        assert.equal((await clientAs(server, again.token).keyValueStores().list({ unnamed: true })).total, 0);
    });

    test('only the admin deletes users: 403 for anyone else (themselves too), whether or not the user exists', T, async () => {
        const carol = await createUser(server, 'carol');
        const dave = await createUser(server, 'dave');
        for (const who of [dave.username, carol.username, 'me', 'no-such-user']) assertApiError(await del(who, carol.token), 403, 'insufficient-permissions', who);
        assertApiError(await del(dave.username, null), 401, 'token-not-provided');
        assert.equal(dataOf(await request(server, { path: '/v2/users/me', token: dave.token })).username, dave.username);
        assertApiError(await del('no-such-user'), 404, 'record-not-found');
    });

    test('the only admin cannot be deleted (400, nothing changes); with a second admin either may go', T, async () => {
        const own = await startServer();
        try {
            const delOn = (user, token) => request(own, { method: 'DELETE', path: `/v2/users/${user}`, token });
            const err = assertApiError(await delOn('admin'), 400, 'invalid-value');
            assert.equal(err.message, 'User "admin" is the only admin and cannot be deleted: create another admin first.');
            assertApiError(await delOn('me'), 400, 'invalid-value');
            assert.equal(dataOf(await request(own, { path: '/v2/users/me' })).username, 'admin');
            const second = await createUser(own, 'root', { isAdmin: true });
            assert.equal((await delOn('admin', second.token)).status, 204);
            assertApiError(await delOn(second.username, second.token), 400, 'invalid-value');
            assertApiError(await request(own, { path: '/v2/users/me' }), 401, 'user-or-token-not-found');
        } finally {
            await own.stop();
        }
    });

    test('kvs user delete through the server and on the data directory: what went, in the same words', T, async () => {
        const erin = await createUser(server, 'erin');
        const asErin = clientAs(server, erin.token);
        const s = await asErin.keyValueStores().getOrCreate(uniqueName('e'));
        await asErin.keyValueStore(s.id).setRecord({ key: 'a', value: 1 });
        await asErin.keyValueStore(s.id).setRecord({ key: 'b', value: 2 });
        const env = { KVS_URL: server.url, KVS_TOKEN: server.token };
        const r = await runKvs(['user', 'delete', erin.username], { env });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `deleted user ${erin.username} with their tokens and 1 store (2 records)\n`);
        const gone = await runKvs(['user', 'delete', erin.username], { env });
        assert.equal(gone.code, 3, gone.stderr);
        assert.equal(gone.stderr, `kvs: no user named '${erin.username}' (HTTP 404)\n`);

        const fred = await createUser(server, 'fred');
        const data = server.storage ?? server.dataDir;
        const local = await runKvs(['user', 'delete', fred.username, '--data', data]);
        assert.equal(local.code, 0, local.stderr);
        assert.equal(local.stdout, `deleted user ${fred.username} with their tokens and 0 stores (0 records)\n`);
        assertApiError(await request(server, { path: '/v2/users/me', token: fred.token }), 401, 'user-or-token-not-found');
        const last = await runKvs(['user', 'delete', 'admin', '--data', data]);
        assert.equal(last.code, 1);
        assert.equal(last.stderr, 'kvs: admin is the only admin and cannot be deleted: create another admin first\n');
        assert.equal(dataOf(await request(server, { path: '/v2/users/me' })).username, 'admin');
    });
});

describe('key items carry the record\'s content type and modification time', () => {
    test('every item of GET …/keys: contentType as stored and modifiedAt as its Last-Modified, for the official client too', T, async () => {
        const client = makeClient(server);
        const store = await client.keyValueStores().getOrCreate(uniqueName('keys'));
        const kv = client.keyValueStore(store.id);
        await kv.setRecord({ key: 'a', value: { x: 1 } });
        await kv.setRecord({ key: 'b', value: Buffer.from([1, 2, 3]), contentType: 'image/png' });
        await kv.setRecord({ key: 'c', value: 'text', contentType: 'text/plain; charset=utf-8' });
        const raw = dataOf(await request(server, { path: `${storePath(store.id)}/keys` }));
        assert.deepEqual(raw.items.map((i) => Object.keys(i)), Array(3).fill(['key', 'size', 'recordPublicUrl', 'contentType', 'modifiedAt']));
        assert.deepEqual(raw.items.map((i) => i.contentType), ['application/json; charset=utf-8', 'image/png', 'text/plain; charset=utf-8']);
        for (const item of raw.items) {
            assert.match(item.modifiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
            const head = await request(server, { method: 'HEAD', path: `${storePath(store.id)}/records/${item.key}` });
            assert.equal(new Date(head.headers['last-modified']).getTime(), Math.floor(Date.parse(item.modifiedAt) / 1000) * 1000, item.key);
        }
        // a write moves it; the list through apify-client keeps the fields
        const before = Date.parse(raw.items[0].modifiedAt);
        await new Promise((r) => setTimeout(r, 5));
        await kv.setRecord({ key: 'a', value: { x: 2 } });
        const listed = await kv.listKeys();
        const a = listed.items.find((i) => i.key === 'a');
        assert.ok(new Date(a.modifiedAt).getTime() > before, `${a.modifiedAt} after ${raw.items[0].modifiedAt}`);
        assert.equal(a.contentType, 'application/json; charset=utf-8');
        // includeContentTypes=1 (which once asked for the type) is still taken, and checked
        assert.equal(dataOf(await request(server, { path: `${storePath(store.id)}/keys?includeContentTypes=1` })).items.length, 3);
        assertApiError(await request(server, { path: `${storePath(store.id)}/keys?includeContentTypes=maybe` }), 400, 'invalid-parameter');
    });
});
