// Scoped and expiring tokens (issue 19; auth/scope.h): a token limited to some stores (by
// ID, name or name prefix, present or future), to reading or writing, with or without
// administration, and expiring. The table runs every route × what it needs (read, write,
// manage, account) × a store in and out of the token's scope × tokens of every kind (an
// expired one too), and checks each answer against the model: a token does what its user may
// and its scope allows, and out of its scope what anyone may. Then: a scoped token never
// widens itself or mints a broader one, GET /v2/users/me shows its scope, and the caches
// follow a revocation at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { assertApiError, dataOf, ms, NEEDS_SPAWN, request, runKvs, startServer, storePath, uniqueName } from '../lib/server.mjs';
import { createUser, share } from '../lib/users.mjs';

const T = { timeout: ms(300_000), skip: NEEDS_SPAWN };
const JSON_HEADERS = { 'Content-Type': 'application/json' };

let server;
let alice; // an ordinary user, owner of the stores below
let bob; // another user, who shares a store with alice
const stores = {}; // kind → store object: in (in-…), out (other-…), prefixed (tmp-…), shared (bob's)

/** Makes a token for USER (as the admin) with BODY ({scope, expiresInSecs, ...}); returns the token. */
async function token(user, body) {
    const res = await request(server, { method: 'POST', path: `/v2/users/${user.username}/tokens`, headers: JSON_HEADERS, body: JSON.stringify(body) });
    return dataOf(res, 201).token;
}

async function makeStore(owner, name) {
    const res = await request(server, { method: 'POST', path: `/v2/key-value-stores?name=${name}`, token: owner.token });
    const s = dataOf(res, 201);
    await request(server, { method: 'PUT', path: storePath(s.id), token: owner.token, headers: JSON_HEADERS, body: JSON.stringify({ generalAccess: 'RESTRICTED' }) });
    const put = await request(server, { method: 'PUT', path: `${storePath(s.id)}/records/k`, token: owner.token, headers: { 'Content-Type': 'text/plain' }, body: 'v' });
    assert.equal(put.status, 201);
    return s;
}

// The levels of the model.
const NONE = 0;
const READ = 1;
const WRITE = 2;
const MANAGE = 3;

// The tokens of alice: [name, body, level on each store kind, administration of the account].
// (Alice owns in, out and prefixed: her own rights are MANAGE there; bob shared "shared" with
// her for WRITE.)
const TOKENS = [
    ['unlimited', {}, { in: MANAGE, out: MANAGE, prefixed: MANAGE, shared: WRITE }, true],
    ['read one store by name', { scope: { stores: [{ store: 'IN' }] } }, { in: READ }, false],
    ['write one store by ID', { scope: { stores: [{ id: 'IN_ID', access: 'WRITE' }] } }, { in: WRITE }, false],
    ['manage one store', { scope: { stores: [{ name: 'IN', access: 'WRITE' }], administration: true } }, { in: MANAGE }, true],
    ['write a name prefix', { scope: { stores: [{ store: 'tmp-*', access: 'WRITE' }] } }, { prefixed: WRITE }, false],
    ['read every store', { scope: { access: 'READ' } }, { in: READ, out: READ, prefixed: READ, shared: READ }, false],
    ['write every store', { scope: { access: 'WRITE' } }, { in: WRITE, out: WRITE, prefixed: WRITE, shared: WRITE }, false],
    ['write a shared store', { scope: { stores: [{ store: 'BOB~SHARED', access: 'WRITE' }] } }, { shared: WRITE }, false],
    ['expiring, unlimited otherwise', { expiresInSecs: 3600 }, { in: MANAGE, out: MANAGE, prefixed: MANAGE, shared: WRITE }, true],
];

// Routes on a store: [name, what it needs, request(ref, token) → response, success status].
const STORE_ROUTES = [
    ['GET store', READ, (ref, t) => request(server, { path: storePath(ref), token: t }), 200],
    ['GET keys', READ, (ref, t) => request(server, { path: `${storePath(ref)}/keys`, token: t }), 200],
    ['GET records (ZIP)', READ, (ref, t) => request(server, { path: `${storePath(ref)}/records`, token: t }), 200],
    ['GET record', READ, (ref, t) => request(server, { path: `${storePath(ref)}/records/k`, token: t }), 200],
    ['HEAD record', READ, (ref, t) => request(server, { method: 'HEAD', path: `${storePath(ref)}/records/k`, token: t }), 200],
    ['PUT record', WRITE, (ref, t) => request(server, { method: 'PUT', path: `${storePath(ref)}/records/k`, token: t, headers: { 'Content-Type': 'text/plain' }, body: 'v' }), 201],
    ['POST record', WRITE, (ref, t) => request(server, { method: 'POST', path: `${storePath(ref)}/records/k2`, token: t, headers: { 'Content-Type': 'text/plain' }, body: 'v' }), 201],
    ['DELETE record', WRITE, (ref, t) => request(server, { method: 'DELETE', path: `${storePath(ref)}/records/gone`, token: t }), 204],
    ['PUT store (settings)', MANAGE, (ref, t) => request(server, { method: 'PUT', path: storePath(ref), token: t, headers: JSON_HEADERS, body: JSON.stringify({ title: 'x' }) }), 200],
    ['GET shares', MANAGE, (ref, t) => request(server, { path: `${storePath(ref)}/shares`, token: t }), 200],
    ['PUT share', MANAGE, (ref, t) => request(server, { method: 'PUT', path: `${storePath(ref)}/shares/${bob.username}`, token: t, headers: JSON_HEADERS, body: '{"access":"READ"}' }), 200],
    ['DELETE share', MANAGE, (ref, t) => request(server, { method: 'DELETE', path: `${storePath(ref)}/shares/nobody-at-all`, token: t }), 404],
    ['POST rotate-signing-key', MANAGE, (ref, t) => request(server, { method: 'POST', path: `${storePath(ref)}/rotate-signing-key`, token: t }), 200],
];

/** The references a store is reached by: its ID, and its owner's username~name. */
function refsOf(kind) {
    const s = stores[kind];
    return [
        ['by ID', s.id],
        ['by name', `${kind === 'shared' ? bob.username : alice.username}~${s.name}`],
    ];
}

before(async () => {
    server = await startServer();
    alice = await createUser(server, 'alice');
    bob = await createUser(server, 'bob');
    stores.in = await makeStore(alice, uniqueName('in'));
    stores.out = await makeStore(alice, uniqueName('other'));
    stores.prefixed = await makeStore(alice, `tmp-${uniqueName('p')}`);
    stores.shared = await makeStore(bob, uniqueName('shared'));
    await share(server, bob.token, stores.shared.id, alice.username, 'WRITE');
});
after(async () => server?.stop());

/** The token body with the store placeholders filled in. */
function fill(body) {
    return JSON.parse(
        JSON.stringify(body)
            .replaceAll('IN_ID', stores.in.id)
            .replaceAll('"IN"', `"${stores.in.name}"`)
            .replaceAll('BOB~SHARED', `${bob.username}~${stores.shared.name}`),
    );
}

describe('the scoped-token model: every store route × need × in and out of scope × token kind', T, () => {
    for (const [name, body, levels] of TOKENS) {
        test(name, async () => {
            const t = await token(alice, fill(body));
            const problems = [];
            let cells = 0;
            for (const kind of ['in', 'out', 'prefixed', 'shared']) {
                const level = levels[kind] ?? NONE;
                for (const [how, ref] of refsOf(kind)) {
                    for (const [route, need, call, ok] of STORE_ROUTES) {
                        const res = await call(ref, t);
                        cells++;
                        const where = `${route} ${kind} ${how}`;
                        if (level >= need) {
                            if (res.status !== ok) problems.push(`${where}: ${res.status} ${res.text.slice(0, 120)}, expected ${ok}`);
                            continue;
                        }
                        // refused: 404 when named by name and not even readable, else 403
                        const want = how === 'by name' && level < READ ? 404 : 403;
                        if (res.status !== want) problems.push(`${where}: ${res.status}, expected ${want}`);
                        else if (route !== 'HEAD record' && res.json().error.type !== (want === 404 ? 'record-not-found' : 'insufficient-permissions'))
                            problems.push(`${where}: type ${res.json().error.type}`);
                    }
                }
            }
            assert.ok(cells >= 4 * 2 * STORE_ROUTES.length);
            assert.deepEqual(problems, [], `${problems.length} of ${cells} cells differ:\n${problems.join('\n')}`);
        });
    }

    test('a store out of scope is what it is to anyone: open by general access, closed otherwise', async () => {
        const t = await token(alice, { scope: { stores: [{ name: stores.in.name }] } });
        const open = await makeStore(alice, uniqueName('open'));
        await request(server, { method: 'PUT', path: storePath(open.id), token: alice.token, headers: JSON_HEADERS, body: '{"generalAccess":"ANYONE_WITH_ID_CAN_READ"}' });
        assert.equal((await request(server, { path: `${storePath(open.id)}/records/k`, token: t })).status, 200, 'readable by anyone: by the token too');
        assertApiError(await request(server, { method: 'PUT', path: `${storePath(open.id)}/records/k`, token: t, body: 'x' }), 403, 'insufficient-permissions');
        // and never the secret of a store it may not write
        const seen = dataOf(await request(server, { path: storePath(open.id), token: t }));
        assert.equal(seen.urlSigningSecretKey, undefined);
        const inside = dataOf(await request(server, { path: storePath(stores.in.id), token: t }));
        assert.equal(inside.urlSigningSecretKey, undefined, 'READ in scope: no secret either');
        const w = await token(alice, { scope: { stores: [{ name: stores.in.name, access: 'WRITE' }] } });
        assert.match(dataOf(await request(server, { path: storePath(stores.in.id), token: w })).urlSigningSecretKey, /^[A-Za-z0-9]{32}$/);
    });

    test('names and prefixes cover stores to come, and follow renames', async () => {
        const t = await token(alice, { scope: { stores: [{ store: 'later-*', access: 'WRITE' }, { name: 'exact-later', access: 'WRITE' }] } });
        // creating what the scope covers, and nothing else (an unnamed store is covered by no name)
        assert.equal((await request(server, { method: 'POST', path: '/v2/key-value-stores?name=later-one', token: t })).status, 201);
        assert.equal((await request(server, { method: 'POST', path: '/v2/key-value-stores?name=exact-later', token: t })).status, 201);
        assert.equal((await request(server, { method: 'POST', path: '/v2/key-value-stores?name=later-one', token: t })).status, 200, 'get-or-create');
        assertApiError(await request(server, { method: 'POST', path: '/v2/key-value-stores?name=elsewhere', token: t }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { method: 'POST', path: '/v2/key-value-stores', token: t }), 403, 'insufficient-permissions');
        // a READ scope gets an existing store from get-or-create, and creates nothing
        const r = await token(alice, { scope: { stores: [{ name: stores.in.name }, { name: 'not-yet' }] } });
        assert.equal((await request(server, { method: 'POST', path: `/v2/key-value-stores?name=${stores.in.name}`, token: r })).status, 200);
        assertApiError(await request(server, { method: 'POST', path: '/v2/key-value-stores?name=not-yet', token: r }), 403, 'insufficient-permissions');
        // a store renamed into the prefix is in scope, renamed out of it is not
        const s = await makeStore(alice, uniqueName('moving'));
        assert.equal((await request(server, { path: `${storePath(s.id)}/records/k`, token: t })).status, 403);
        await request(server, { method: 'PUT', path: storePath(s.id), token: alice.token, headers: JSON_HEADERS, body: '{"name":"later-moved"}' });
        assert.equal((await request(server, { path: `${storePath(s.id)}/records/k`, token: t })).status, 200);
        await request(server, { method: 'PUT', path: storePath(s.id), token: alice.token, headers: JSON_HEADERS, body: '{"name":"moved-away"}' });
        assert.equal((await request(server, { path: `${storePath(s.id)}/records/k`, token: t })).status, 403);
        // the store list holds what the scope covers, paged and counted over that
        const list = dataOf(await request(server, { path: '/v2/key-value-stores?limit=1', token: t }));
        assert.equal(list.total, 2);
        assert.equal(list.items.length, 1);
        const page2 = dataOf(await request(server, { path: '/v2/key-value-stores?limit=1&offset=1', token: t }));
        assert.deepEqual([list.items[0].name, page2.items[0].name].sort(), ['exact-later', 'later-one']);
    });
});

describe('the account: administration, users, tokens, /metrics', T, () => {
    test('without administration a token uses stores and reads who it is, nothing more', async () => {
        const t = await token(alice, { scope: { access: 'WRITE' } });
        const me = dataOf(await request(server, { path: '/v2/users/me', token: t }));
        assert.equal(me.username, alice.username);
        const calls = [
            ['PUT /v2/users/me', { method: 'PUT', path: '/v2/users/me', headers: JSON_HEADERS, body: '{"defaultGeneralAccess":"RESTRICTED"}' }],
            ['GET /v2/users/me/usage', { path: '/v2/users/me/usage' }],
            ['GET /v2/users/me/tokens', { path: '/v2/users/me/tokens' }],
            ['DELETE another token', { method: 'DELETE', path: `/v2/tokens/${alice.token.slice(0, 12)}` }],
        ];
        for (const [what, opts] of calls) {
            const err = assertApiError(await request(server, { ...opts, token: t }), 403, 'insufficient-permissions', what);
            assert.match(err.message, /administration/, what);
        }
        // the unlimited token of the same user may
        for (const [what, opts] of calls.slice(0, 3)) assert.equal((await request(server, { ...opts, token: alice.token })).status, 200, what);
    });

    test('a token may always revoke itself, by its prefix or whole', async () => {
        for (const whole of [false, true]) {
            const t = await token(alice, { scope: { stores: [] } });
            assert.equal((await request(server, { path: '/v2/users/me', token: t })).status, 200);
            const res = await request(server, { method: 'DELETE', path: `/v2/tokens/${whole ? t : t.slice(0, 12)}`, token: t });
            assert.equal(res.status, 204, res.text);
            assertApiError(await request(server, { path: '/v2/users/me', token: t }), 401, 'user-or-token-not-found');
        }
        assert.equal((await request(server, { path: '/v2/users/me', token: alice.token })).status, 200, 'the others stay');
    });

    test('the admin through a token without administration is an ordinary user', async () => {
        const admin = { username: 'admin' };
        const t = await token(admin, { scope: { access: 'WRITE' } });
        for (const path of ['/v2/users', '/metrics', `/v2/users/${alice.username}/tokens`]) {
            assertApiError(await request(server, { path, token: t }), 403, 'insufficient-permissions', path);
        }
        assertApiError(await request(server, { method: 'POST', path: '/v2/users', token: t, headers: JSON_HEADERS, body: '{"username":"nope"}' }), 403, 'insufficient-permissions');
        const victim = await createUser(server, 'victim');
        assertApiError(await request(server, { method: 'DELETE', path: `/v2/users/${victim.username}`, token: t }), 403, 'insufficient-permissions', 'DELETE a user');
        assert.equal((await request(server, { path: `/v2/users/${victim.username}` })).status, 200, 'the user stays');
        const other = dataOf(await request(server, { path: `/v2/users/${alice.username}`, token: t }));
        assert.deepEqual(Object.keys(other).sort(), ['id', 'profile', 'username'], 'the public part only');
        // with administration, all of it
        const a = await token(admin, { scope: { access: 'WRITE', administration: true } });
        assert.equal((await request(server, { path: '/v2/users', token: a })).status, 200);
        assert.equal((await request(server, { path: '/metrics', token: a })).status, 200);
    });

    test('a scoped token never mints a broader one, nor users', async () => {
        const admin = { username: 'admin' };
        const parent = await token(admin, { scope: { stores: [{ store: 'tmp-*', access: 'WRITE' }], administration: true }, expiresInSecs: 3600 });
        const mint = (user, body) => request(server, { method: 'POST', path: `/v2/users/${user}/tokens`, token: parent, headers: JSON_HEADERS, body: JSON.stringify(body) });
        // narrower: fine, and it is what it says
        const child = dataOf(await mint('admin', { scope: { stores: [{ store: 'tmp-a*' }] }, expiresInSecs: 60 }), 201);
        assert.deepEqual(child.scope, { stores: [{ namePrefix: 'tmp-a', username: 'admin', access: 'READ' }], administration: false });
        // broader in any way: refused
        const wider = [
            ['no scope', { expiresInSecs: 60 }],
            ['every store', { scope: { access: 'READ' }, expiresInSecs: 60 }],
            ['another prefix', { scope: { stores: [{ store: 'tm*' }] }, expiresInSecs: 60 }],
            ['a name outside', { scope: { stores: [{ name: 'other' }] }, expiresInSecs: 60 }],
            ['WRITE over a READ prefix', { scope: { stores: [{ store: 'tmp-*', access: 'WRITE' }, { store: 'x-*' }] }, expiresInSecs: 60 }],
            ['never expiring', { scope: { stores: [{ store: 'tmp-*' }] } }],
            ['expiring later', { scope: { stores: [{ store: 'tmp-*' }] }, expiresInSecs: 7200 }],
        ];
        for (const [what, body] of wider) assertApiError(await mint('admin', body), 403, 'insufficient-permissions', what);
        // for another user: its names are that user's, not within the parent's
        assertApiError(await mint(alice.username, { scope: { stores: [{ store: 'tmp-*' }] }, expiresInSecs: 60 }), 403, 'insufficient-permissions');
        // users: only an unlimited token makes them
        assertApiError(await request(server, { method: 'POST', path: '/v2/users', token: parent, headers: JSON_HEADERS, body: '{"username":"made-by-scoped"}' }), 403, 'insufficient-permissions');
        // and the parent itself stays what it was
        assert.deepEqual(dataOf(await request(server, { path: '/v2/users/me', token: parent })).currentToken.scope.stores, [{ namePrefix: 'tmp-', username: 'admin', access: 'WRITE' }]);
    });

    test('GET /v2/users/me shows the token of the request, and the token list shows every token\'s limits', async () => {
        const body = { scope: { stores: [{ store: `${bob.username}~${stores.shared.name}`, access: 'WRITE' }, { id: stores.in.id }] }, expiresAt: '2099-01-02T03:04:05.678Z' };
        const t = await token(alice, body);
        const me = dataOf(await request(server, { path: '/v2/users/me', token: t }));
        assert.deepEqual(me.currentToken, {
            prefix: t.slice(0, 12),
            expiresAt: '2099-01-02T03:04:05.678Z',
            scope: { stores: [{ name: stores.shared.name, username: bob.username, access: 'WRITE' }, { id: stores.in.id, access: 'READ' }], administration: false },
        });
        const full = dataOf(await request(server, { path: '/v2/users/me', token: alice.token }));
        assert.deepEqual(full.currentToken, { prefix: alice.token.slice(0, 12), expiresAt: null, scope: null });
        const list = dataOf(await request(server, { path: `/v2/users/${alice.username}/tokens` }));
        const row = list.items.find((i) => i.prefix === t.slice(0, 12));
        assert.equal(row.expiresAt, '2099-01-02T03:04:05.678Z');
        assert.deepEqual(row.scope, me.currentToken.scope);
    });

    test('bad scopes and expiries are refused with the reason (400)', async () => {
        const bad = [
            { scope: 'all' },
            { scope: { stores: [{ store: 'a b' }] } },
            { scope: { stores: [{ name: 'x', access: 'ADMIN' }] } },
            { scope: { stores: [{ store: 'nobody-here~x' }] } },
            { scope: { access: 'READ', stores: [] } },
            { expiresAt: 'tomorrow' },
            { expiresAt: '2001-01-01T00:00:00Z' },
            { expiresInSecs: 0 },
            { expiresInSecs: 60, expiresAt: '2099-01-01T00:00:00Z' },
            { unknown: 1 },
        ];
        for (const body of bad) {
            const res = await request(server, { method: 'POST', path: `/v2/users/${alice.username}/tokens`, headers: JSON_HEADERS, body: JSON.stringify(body) });
            const err = assertApiError(res, 400, 'invalid-value', JSON.stringify(body));
            assert.ok(err.message.length > 20, err.message);
        }
    });
});

describe('expiry and revocation', T, () => {
    test('an expired token opens nothing, on every route, and says so', async () => {
        const t = await token(alice, { expiresInSecs: 1 });
        assert.equal((await request(server, { path: `${storePath(stores.in.id)}/records/k`, token: t })).status, 200);
        await sleep(1200);
        const routes = [
            { path: `${storePath(stores.in.id)}/records/k` },
            { method: 'PUT', path: `${storePath(stores.in.id)}/records/k`, body: 'x' },
            { path: '/v2/users/me' },
            { path: '/v2/key-value-stores' },
            { path: '/health' },
            { method: 'DELETE', path: `/v2/tokens/${t}` },
        ];
        for (const r of routes) {
            const err = assertApiError(await request(server, { ...r, token: t }), 401, 'user-or-token-not-found', `${r.method ?? 'GET'} ${r.path}`);
            assert.match(err.message, /expired/);
        }
        // also through ?token=
        assertApiError(await request(server, { path: `/v2/users/me?token=${t}`, token: false }), 401, 'user-or-token-not-found');
    });

    test('a revoked scoped token is refused from the next request on, cached or not', async () => {
        const t = await token(alice, { scope: { stores: [{ name: stores.in.name }] } });
        for (let i = 0; i < 4; i++) assert.equal((await request(server, { path: `${storePath(stores.in.id)}/records/k`, token: t })).status, 200);
        assert.equal((await request(server, { method: 'DELETE', path: `/v2/tokens/${t.slice(0, 12)}` })).status, 204);
        for (let i = 0; i < 4; i++) assertApiError(await request(server, { path: `${storePath(stores.in.id)}/records/k`, token: t }), 401, 'user-or-token-not-found');
    });
});

describe('kvs token create with a scope', T, () => {
    test('--store, --access, --administration, --expires; through the API and on the data directory', async () => {
        const env = { KVS_URL: server.url, KVS_TOKEN: server.token };
        const out = await runKvs(['token', 'create', alice.username, '--store', `${stores.in.name}:read`, '--store', 'tmp-*:write', '--expires', '30d'], { env });
        assert.equal(out.code, 0, out.stderr);
        const lines = out.stdout.trim().split('\n');
        assert.match(lines[0], new RegExp(`^scope: ${stores.in.name}:read tmp-\\*:write$`));
        assert.match(lines[1], /^expires: \d{4}-/);
        const t = lines.at(-1);
        const me = dataOf(await request(server, { path: '/v2/users/me', token: t }));
        assert.deepEqual(me.currentToken.scope.stores.map((s) => [s.name ?? `${s.namePrefix}*`, s.access]), [[stores.in.name, 'READ'], ['tmp-*', 'WRITE']]);
        const days = (Date.parse(me.currentToken.expiresAt) - Date.now()) / 86400000;
        assert.ok(days > 29.9 && days <= 30, `30 days: ${days}`);
        const list = await runKvs(['token', 'list', alice.username], { env });
        assert.match(list.stdout, /PREFIX\s+CREATED\s+EXPIRES\s+SCOPE/);
        assert.ok(list.stdout.includes(`${stores.in.name}:read tmp-*:write`), list.stdout);
        const all = await runKvs(['token', 'create', alice.username, '--access', 'write', '--administration'], { env });
        assert.equal(all.code, 0, all.stderr);
        assert.match(all.stdout, /^scope: all:write \+admin\nexpires: never\n/);
        // refused before any token is made
        for (const args of [['--store', 'x:admin'], ['--access', 'everything'], ['--expires', 'soon'], ['--store', 'x', '--access', 'read']]) {
            const bad = await runKvs(['token', 'create', alice.username, ...args], { env });
            assert.equal(bad.code, 2, `${args}: ${bad.stderr}`);
        }
        const notFor = await runKvs(['token', 'list', alice.username, '--store', 'x'], { env });
        assert.equal(notFor.code, 2);
    });

    test('on the data directory (kvs token create --data)', { skip: process.env.KVS_TEST_BACKEND === 'pg' ? 'the data directory is LMDB\'s' : false }, async () => {
        const local = await startServer({ keepData: true });
        try {
            const u = await createUser(local, 'local');
            await local.stop();
            const out = await runKvs(['token', 'create', u.username, '--store', 'tmp-*:write', '--expires', '12h', '--data', local.dataDir]);
            assert.equal(out.code, 0, out.stderr);
            assert.match(out.stdout, /^scope: tmp-\*:write\nexpires: \d{4}-/);
            const bad = await runKvs(['token', 'create', u.username, '--store', 'nobody-here~x', '--data', local.dataDir]);
            assert.equal(bad.code, 1);
            assert.match(bad.stderr, /not found/);
            const list = await runKvs(['token', 'list', u.username, '--data', local.dataDir]);
            assert.ok(list.stdout.includes('tmp-*:write'), list.stdout);
        } finally {
            await fs.rm(local.dataDir, { recursive: true, force: true });
        }
    });
});

describe('Actor runs have their store\'s rights, through a scoped token too', T, () => {
    test('a run in scope by its store, one out of it, the run list, starting runs', async () => {
        const start = (t) => request(server, { method: 'POST', path: '/v2/actor-runs', token: t, headers: JSON_HEADERS, body: JSON.stringify({ actor: 'scoped-actor' }) });
        const mine = dataOf(await start(alice.token), 201);
        const other = dataOf(await start(alice.token), 201);
        const reader = await token(alice, { scope: { stores: [{ id: mine.defaultKeyValueStoreId }] } });
        const runner = await token(alice, { scope: { stores: [{ id: mine.defaultKeyValueStoreId, access: 'WRITE' }], administration: true } });
        // reading a run and its store: in scope
        assert.equal((await request(server, { path: `/v2/actor-runs/${mine.id}`, token: reader })).status, 200);
        assert.equal((await request(server, { path: `/v2/actor-runs/${mine.id}/key-value-store`, token: reader })).status, 200);
        assertApiError(await request(server, { method: 'PUT', path: `/v2/actor-runs/${mine.id}/key-value-store/records/x`, token: reader, body: 'x' }), 403, 'insufficient-permissions');
        assert.equal((await request(server, { method: 'PUT', path: `/v2/actor-runs/${mine.id}/key-value-store/records/x`, token: runner, body: 'x' })).status, 201);
        // what a run's own runner does (status message: managing the run) needs administration
        const status = (t) => request(server, { method: 'PUT', path: `/v2/actor-runs/${mine.id}`, token: t, headers: JSON_HEADERS, body: '{"statusMessage":"working"}' });
        assertApiError(await status(reader), 403, 'insufficient-permissions');
        assert.equal((await status(runner)).status, 200);
        // another run: out of scope
        assertApiError(await request(server, { path: `/v2/actor-runs/${other.id}`, token: reader }), 403, 'insufficient-permissions');
        // the list holds the runs of the scope only
        const list = dataOf(await request(server, { path: '/v2/actor-runs', token: reader }));
        assert.deepEqual(list.items.map((i) => i.id), [mine.id]);
        assert.equal(list.total, 1);
        assert.ok(dataOf(await request(server, { path: '/v2/actor-runs', token: alice.token })).total >= 2);
        // a run's store is a new unnamed store: only a scope that may write every store starts one
        assertApiError(await start(runner), 403, 'insufficient-permissions');
        const every = await token(alice, { scope: { access: 'WRITE' } });
        assert.equal((await start(every)).status, 201);
    });
});
