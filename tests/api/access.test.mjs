// The access model, as one table (contract §3 and §10, src/auth/access.h): every kind of caller
// (owner, admin, a user the store is shared with for READ or for WRITE, a stranger with a token,
// no token at all) × every generalAccess (each value, and FOLLOW_USER_SETTING under each owner
// default) × the store addressed by ID and by username~name × every endpoint of a store. Each
// cell is sent as raw HTTP (exact status, error type, and an error message that names nothing of
// the owner's) and, where the official client has a method for the endpoint, through
// apify-client as well (what a client program sees).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ms, recordPath, request, startServer, storePath, uniqueName } from '../lib/server.mjs';
import { clientAs, createUser, setDefaultAccess, share } from '../lib/users.mjs';

const T = { timeout: ms(120_000) };
const JSON_HEADERS = { 'Content-Type': 'application/json' };

const CALLERS = ['owner', 'admin', 'writer', 'reader', 'stranger', 'anonymous'];
const FORMS = ['id', 'name'];

/** The generalAccess of the store and, for FOLLOW_USER_SETTING, the owner's default. */
const GROUPS = [
    { ga: 'RESTRICTED' },
    { ga: 'ANYONE_WITH_ID_CAN_READ' },
    { ga: 'ANYONE_WITH_NAME_CAN_READ' },
    { ga: 'FOLLOW_USER_SETTING', ownerDefault: 'RESTRICTED' },
    { ga: 'FOLLOW_USER_SETTING', ownerDefault: 'ANYONE_WITH_ID_CAN_READ' },
    { ga: 'FOLLOW_USER_SETTING', ownerDefault: 'ANYONE_WITH_NAME_CAN_READ' },
];

/**
 * Every endpoint of a store: what it needs (read, write = records, manage = the owner's), its
 * success status, the raw request, and the apify-client call when the client has one.
 * `fresh`: a success destroys the target, so callers expected to succeed get a store of their own.
 */
const ENDPOINTS = [
    {
        name: 'GET store',
        need: 'read',
        ok: 200,
        raw: (ref) => ({ path: storePath(ref) }),
        client: async (kvs) => ((await kvs.get()) === undefined ? notFound() : 200),
    },
    {
        name: 'PUT store',
        need: 'manage',
        ok: 200,
        raw: (ref) => ({ method: 'PUT', path: storePath(ref), headers: JSON_HEADERS, body: JSON.stringify({ title: 'changed' }) }),
        client: async (kvs) => (await kvs.update({ title: 'changed' }), 200),
    },
    {
        name: 'GET keys',
        need: 'read',
        ok: 200,
        raw: (ref) => ({ path: `${storePath(ref)}/keys` }),
        client: async (kvs) => (await kvs.listKeys(), 200),
    },
    { name: 'GET records (ZIP)', need: 'read', ok: 200, raw: (ref) => ({ path: `${storePath(ref)}/records` }) },
    {
        name: 'GET record',
        need: 'read',
        ok: 200,
        raw: (ref) => ({ path: recordPath(ref, 'rec') }),
        client: async (kvs) => ((await kvs.getRecord('rec')) === undefined ? notFound() : 200),
    },
    {
        name: 'HEAD record',
        need: 'read',
        ok: 200,
        raw: (ref) => ({ method: 'HEAD', path: recordPath(ref, 'rec') }),
        client: async (kvs) => ((await kvs.recordExists('rec')) ? 200 : notFound()),
    },
    {
        name: 'PUT record',
        need: 'write',
        ok: 201,
        raw: (ref) => ({ method: 'PUT', path: recordPath(ref, 'put-key'), headers: { 'Content-Type': 'text/plain' }, body: 'x' }),
        client: async (kvs) => (await kvs.setRecord({ key: 'put-key', value: 'x', contentType: 'text/plain' }), 201),
    },
    {
        name: 'DELETE record',
        need: 'write',
        ok: 204,
        raw: (ref) => ({ method: 'DELETE', path: recordPath(ref, 'gone') }),
        client: async (kvs) => (await kvs.deleteRecord('gone'), 204),
    },
    { name: 'GET shares', need: 'manage', ok: 200, raw: (ref) => ({ path: `${storePath(ref)}/shares` }) },
    {
        name: 'PUT share',
        need: 'manage',
        ok: 200,
        raw: (ref, ctx) => ({
            method: 'PUT',
            path: `${storePath(ref)}/shares/${ctx.extra.username}`,
            headers: JSON_HEADERS,
            body: JSON.stringify({ access: 'READ' }),
        }),
    },
    { name: 'DELETE share', need: 'manage', ok: 204, raw: (ref, ctx) => ({ method: 'DELETE', path: `${storePath(ref)}/shares/${ctx.extra.username}` }) },
    {
        name: 'DELETE store',
        need: 'manage',
        ok: 204,
        fresh: true,
        raw: (ref) => ({ method: 'DELETE', path: storePath(ref) }),
        // The client's delete() swallows a 404: whether the store is still there tells.
        client: async (kvs, target) => (await kvs.delete(), (await target.exists()) ? notFound() : 204),
    },
];

/** What the client returns instead of throwing on 404 record-not-found. */
function notFound() {
    return { status: 404, type: 'record-not-found' };
}

/** The answer the rules of src/auth/access.h give: { status, type? }. */
function expected(caller, effective, form, endpoint) {
    const ok = { status: endpoint.ok };
    if (caller === 'owner' || caller === 'admin') return ok;
    const open = effective === 'ANYONE_WITH_NAME_CAN_READ' || (effective === 'ANYONE_WITH_ID_CAN_READ' && form === 'id');
    const canRead = caller === 'reader' || caller === 'writer' || open;
    if (endpoint.need === 'read' && canRead) return ok;
    if (endpoint.need === 'write' && caller === 'writer') return ok;
    if (caller === 'anonymous') return { status: 401, type: 'token-not-provided' };
    if (form === 'name' && !canRead) return { status: 404, type: 'record-not-found' };
    return { status: 403, type: 'insufficient-permissions' };
}

let server;
let admin;
let users; // { writer, reader, stranger, extra } — users created through the admin API

before(async () => {
    server = await startServer();
    admin = { token: server.token, username: 'admin' };
    users = {};
    for (const role of ['writer', 'reader', 'stranger', 'extra']) users[role] = await createUser(server, role);
});

after(async () => {
    await server?.stop();
});

/** A store of OWNER with generalAccess GA, a record 'rec', shared READ with reader and WRITE with writer. */
async function makeStore(owner, ga) {
    const client = clientAs(server, owner.token);
    const store = await client.keyValueStores().getOrCreate(uniqueName('acc'));
    const kvs = client.keyValueStore(store.id);
    await kvs.update({ generalAccess: ga });
    await kvs.setRecord({ key: 'rec', value: { secret: 'data' } });
    await share(server, owner.token, store.id, users.reader.username, 'READ');
    await share(server, owner.token, store.id, users.writer.username, 'WRITE');
    return store;
}

function tokenOf(caller, owner) {
    if (caller === 'owner') return owner.token;
    if (caller === 'admin') return admin.token;
    if (caller === 'anonymous') return false;
    return users[caller].token;
}

function refOf(store, form, owner) {
    return form === 'id' ? store.id : `${owner.username}~${store.name}`;
}

/** Runs every cell of GROUP; returns the mismatches as lines (empty when all match). */
async function runGroup(group) {
    const owner = await createUser(server, 'owner');
    if (group.ownerDefault) await setDefaultAccess(server, owner.token, group.ownerDefault);
    const effective = group.ownerDefault ?? group.ga;
    const store = await makeStore(owner, group.ga);
    const ctx = { extra: users.extra };
    const problems = [];
    let cells = 0;

    for (const endpoint of ENDPOINTS) {
        for (const caller of CALLERS) {
            for (const form of FORMS) {
                const want = expected(caller, effective, form, endpoint);
                const token = tokenOf(caller, owner);
                const success = want.status === endpoint.ok;
                const target = endpoint.fresh && success ? await makeStore(owner, group.ga) : store;
                const ref = refOf(target, form, owner);
                const where = `${group.ga}${group.ownerDefault ? `→${group.ownerDefault}` : ''} | ${endpoint.name} | ${caller} | by ${form}`;

                // Raw HTTP: status, error type, and nothing of the owner's in the message.
                const res = await request(server, { ...endpoint.raw(ref, ctx), token });
                cells++;
                if (res.status !== want.status) {
                    problems.push(`${where}: HTTP ${res.status}, expected ${want.status} ${res.text.slice(0, 200)}`);
                } else if (!success && endpoint.raw(ref, ctx).method !== 'HEAD') {
                    const error = res.json().error;
                    if (error?.type !== want.type) problems.push(`${where}: type ${error?.type}, expected ${want.type}`);
                    for (const secret of [owner.username, target.name, target.id]) {
                        if (error?.message.includes(secret)) problems.push(`${where}: the message names ${secret}: ${error.message}`);
                    }
                }

                // The official client: what a program sees.
                if (endpoint.client) {
                    const t2 = endpoint.fresh && success ? await makeStore(owner, group.ga) : target;
                    const kvs = clientAs(server, token || undefined).keyValueStore(refOf(t2, form, owner));
                    const exists = async () => (await request(server, { path: storePath(t2.id), token: owner.token })).status === 200;
                    let got;
                    try {
                        got = await endpoint.client(kvs, { exists });
                        if (typeof got === 'number') got = { status: got };
                    } catch (e) {
                        if (e.statusCode === undefined) throw e;
                        got = { status: e.statusCode, type: e.type };
                    }
                    cells++;
                    // A HEAD answer has no body: the client knows only its status.
                    const typed = !success && endpoint.name !== 'HEAD record';
                    if (got.status !== want.status || (typed && got.type !== want.type)) {
                        problems.push(`${where} (apify-client): ${got.status} ${got.type ?? ''}, expected ${want.status} ${want.type ?? ''}`);
                    }
                }
            }
        }
    }
    return { problems, cells };
}

describe('access table: caller × generalAccess × addressing × endpoint', () => {
    for (const group of GROUPS) {
        const label = group.ownerDefault ? `${group.ga} with the owner's default ${group.ownerDefault}` : group.ga;
        test(label, T, async () => {
            const { problems, cells } = await runGroup(group);
            assert.ok(cells >= ENDPOINTS.length * CALLERS.length * FORMS.length, `cells run: ${cells}`);
            assert.deepEqual(problems, [], `${problems.length} of ${cells} cells differ:\n${problems.join('\n')}`);
        });
    }
});

describe('what the store object shows', () => {
    test('urlSigningSecretKey and signed links only for those who may write', T, async () => {
        const owner = await createUser(server, 'owner');
        const store = await makeStore(owner, 'ANYONE_WITH_ID_CAN_READ');
        const seen = {};
        for (const caller of CALLERS) {
            const res = await request(server, { path: storePath(store.id), token: tokenOf(caller, owner) });
            assert.equal(res.status, 200, `${caller} reads the open store`);
            seen[caller] = res.json().data;
        }
        for (const caller of ['owner', 'admin', 'writer']) {
            assert.match(seen[caller].urlSigningSecretKey ?? '', /^[A-Za-z0-9]{32}$/, `${caller} sees the secret`);
            assert.match(seen[caller].keysPublicUrl, /\/keys\?signature=/, `${caller} gets a signed keysPublicUrl`);
        }
        for (const caller of ['reader', 'stranger', 'anonymous']) {
            assert.equal(seen[caller].urlSigningSecretKey, undefined, `${caller} does not see the secret`);
            assert.doesNotMatch(seen[caller].keysPublicUrl, /signature=/, `${caller} gets a plain keysPublicUrl`);
            assert.ok(seen[caller].keysPublicUrl.endsWith(`/v2/key-value-stores/${store.id}/keys`));
        }
        assert.equal(seen.owner.urlSigningSecretKey, seen.writer.urlSigningSecretKey);
    });

    test('keys listed for a writer carry signed recordPublicUrls; for a reader plain ones', T, async () => {
        const owner = await createUser(server, 'owner');
        const store = await makeStore(owner, 'RESTRICTED');
        const forWriter = await clientAs(server, users.writer.token).keyValueStore(store.id).listKeys();
        const forReader = await clientAs(server, users.reader.token).keyValueStore(store.id).listKeys();
        assert.match(forWriter.items[0].recordPublicUrl, /\/records\/rec\?signature=[0-9A-Za-z]+$/);
        assert.ok(forReader.items[0].recordPublicUrl.endsWith(`/v2/key-value-stores/${store.id}/records/rec`));
        // The writer's link opens the record for anyone, the reader's does not.
        const open = await request(server, { path: new URL(forWriter.items[0].recordPublicUrl).pathname + new URL(forWriter.items[0].recordPublicUrl).search, token: false });
        assert.equal(open.status, 200);
        assert.deepEqual(open.json(), { secret: 'data' });
        const plain = await request(server, { path: new URL(forReader.items[0].recordPublicUrl).pathname, token: false });
        assert.equal(plain.status, 401);
    });
});
