// Users, tokens and shares: the admin API (api/users.c, api/shares.c), the store list with
// shared stores, revocation that holds at once, default general access (per user and
// --default-general-access), username~name resolution, and the `kvs user|token|share|unshare`
// commands on a data directory (--data) and through a running server (--url).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import {
    CAN_SPAWN,
    assertApiError,
    dataOf,
    makeClient,
    ms,
    recordPath,
    request,
    runKvs,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';
import { LMDB_ONLY } from '../lib/pg.mjs';
import { clientAs, createUser, prefixOf, setDefaultAccess, share } from '../lib/users.mjs';

const T = { timeout: ms(30_000) };
const JSON_HEADERS = { 'Content-Type': 'application/json' };

let server;

before(async () => {
    server = await startServer();
});

after(async () => {
    await server?.stop();
});

function post(path, body, token) {
    return request(server, { method: 'POST', path, token, headers: JSON_HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
}

function put(path, body, token) {
    return request(server, { method: 'PUT', path, token, headers: JSON_HEADERS, body: JSON.stringify(body) });
}

describe('users (admin API)', () => {
    test('the admin creates a user: 201 with the user and its token, shown once', T, async () => {
        const name = uniqueName('alice');
        const res = await post('/v2/users', { username: name });
        const u = dataOf(res, 201);
        assert.equal(u.username, name);
        assert.match(u.id, /^[A-Za-z0-9]{17}$/);
        assert.equal(u.isAdmin, false);
        assert.equal(u.defaultGeneralAccess, 'RESTRICTED');
        assert.match(u.createdAt, /Z$/);
        assert.match(u.token, /^kvs_[A-Za-z0-9]{40}$/);
        // The token works and is the user's.
        const me = dataOf(await request(server, { path: '/v2/users/me', token: u.token }));
        // with what the token itself may do (issue 19): a new user's first token is unlimited
        assert.deepEqual({ ...me }, { id: u.id, username: name, profile: {}, isAdmin: false, defaultGeneralAccess: 'RESTRICTED', createdAt: u.createdAt, currentToken: { prefix: u.token.slice(0, 12), expiresAt: null, scope: null } });
        // Listed afterwards only by its prefix.
        const tokens = dataOf(await request(server, { path: `/v2/users/${name}/tokens` }));
        assert.equal(tokens.count, 1);
        assert.deepEqual(Object.keys(tokens.items[0]).sort(), ['createdAt', 'expiresAt', 'prefix', 'scope']);
        assert.equal(tokens.items[0].expiresAt, null);
        assert.equal(tokens.items[0].scope, null);
        assert.equal(tokens.items[0].prefix, prefixOf(u.token));
        assert.ok(!JSON.stringify(tokens).includes(u.token));
        const list = dataOf(await request(server, { path: '/v2/users' }));
        assert.ok(list.items.some((x) => x.username === name && x.token === undefined));
        assert.ok(list.items.some((x) => x.username === 'admin' && x.isAdmin === true));
        assert.equal(list.total, list.items.length);
    });

    test('bad users are refused: name rules, "me", duplicates, bad fields', T, async () => {
        const taken = (await createUser(server, 'taken')).username;
        const cases = [
            [{}, 400, 'invalid-value'],
            [{ username: '' }, 400, 'invalid-value'],
            [{ username: 'has space' }, 400, 'invalid-value'],
            [{ username: '-dash' }, 400, 'invalid-value'],
            [{ username: 'x'.repeat(64) }, 400, 'invalid-value'],
            [{ username: 'me' }, 400, 'invalid-value'],
            [{ username: taken }, 400, 'already-exists'],
            [{ username: uniqueName('u'), isAdmin: 'yes' }, 400, 'invalid-value'],
            [{ username: uniqueName('u'), defaultGeneralAccess: 'FOLLOW_USER_SETTING' }, 400, 'invalid-value'],
            [{ username: uniqueName('u'), defaultGeneralAccess: 'EVERYONE' }, 400, 'invalid-value'],
        ];
        for (const [body, status, type] of cases) assertApiError(await post('/v2/users', body), status, type, JSON.stringify(body));
        assertApiError(await request(server, { method: 'POST', path: '/v2/users', headers: JSON_HEADERS, body: '[1]' }), 400, 'invalid-request');
    });

    test('a new user with isAdmin and a default access of its own', T, async () => {
        const u = await createUser(server, 'boss', { isAdmin: true, defaultGeneralAccess: 'ANYONE_WITH_ID_CAN_READ' });
        assert.equal(u.isAdmin, true);
        assert.equal(u.defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ');
        // An admin sees the users list.
        assert.equal((await request(server, { path: '/v2/users', token: u.token })).status, 200);
    });

    test('only the admin may manage users and create tokens; others get 403, no token 401', T, async () => {
        const bob = await createUser(server, 'bob');
        const carol = await createUser(server, 'carol');
        const refused = [
            ['GET', '/v2/users'],
            ['POST', '/v2/users', { username: uniqueName('x') }],
            ['POST', `/v2/users/${bob.username}/tokens`],
            ['POST', '/v2/users/me/tokens'],
            ['GET', `/v2/users/${carol.username}/tokens`],
            ['GET', `/v2/users/${carol.id}/tokens`],
            ['PUT', `/v2/users/${carol.username}`, { defaultGeneralAccess: 'RESTRICTED' }],
            ['PUT', `/v2/users/${carol.id}`, { defaultGeneralAccess: 'RESTRICTED' }],
            ['GET', '/v2/users/no-such-user/tokens'], // 403 too: nothing is said about whether it exists
        ];
        for (const [method, path, body] of refused) {
            const opts = { method, path, headers: JSON_HEADERS, body: body && JSON.stringify(body) };
            assertApiError(await request(server, { ...opts, token: bob.token }), 403, 'insufficient-permissions', `${method} ${path}`);
            assertApiError(await request(server, { ...opts, token: false }), 401, 'token-not-provided', `${method} ${path} without a token`);
        }
        // What a user may do about themselves.
        assert.equal(dataOf(await request(server, { path: `/v2/users/${bob.username}`, token: bob.token })).id, bob.id);
        assert.equal(dataOf(await request(server, { path: '/v2/users/me/tokens', token: bob.token })).count, 1);
        // A user that does not exist: 404, for the admin and for anyone else.
        assertApiError(await request(server, { path: '/v2/users/no-such-user' }), 404, 'record-not-found');
        assertApiError(await request(server, { path: '/v2/users/no-such-user', token: bob.token }), 404, 'record-not-found');
        assertApiError(await post('/v2/users/no-such-user/tokens'), 404, 'record-not-found');
    });

    test('GET /v2/users/{userId|username}: the public part for anyone with a token, the whole user for itself and the admin, 404 for no such user', T, async () => {
        const dave = await createUser(server, 'dave');
        const eve = await createUser(server, 'eve');
        const whole = { id: dave.id, username: dave.username, profile: {}, isAdmin: false, defaultGeneralAccess: 'RESTRICTED', createdAt: dave.createdAt };
        for (const ref of [dave.id, dave.username]) {
            // another user sees the public part only, by ID or by username
            assert.deepEqual(dataOf(await request(server, { path: `/v2/users/${ref}`, token: eve.token })), { id: dave.id, username: dave.username, profile: {} }, ref);
            // the user itself and the admin see everything
            // (the user itself also sees the token it asked with: kvstore's, issue 19)
            assert.deepEqual(dataOf(await request(server, { path: `/v2/users/${ref}`, token: dave.token })), { ...whole, currentToken: { prefix: dave.token.slice(0, 12), expiresAt: null, scope: null } }, ref);
            assert.deepEqual(dataOf(await request(server, { path: `/v2/users/${ref}` })), whole, ref);
            assertApiError(await request(server, { path: `/v2/users/${ref}`, token: false }), 401, 'token-not-provided', ref);
        }
        for (const ref of ['no-such-user', 'AAAAAAAAAAAAAAAAA', 'x'.repeat(300), 'not_a_name']) {
            assertApiError(await request(server, { path: `/v2/users/${ref}`, token: eve.token }), 404, 'record-not-found', ref);
            assertApiError(await request(server, { path: `/v2/users/${ref}` }), 404, 'record-not-found', ref);
        }
        // the admin manages a user by its ID as by its username
        assert.equal(dataOf(await request(server, { path: `/v2/users/${dave.id}/tokens` })).username, dave.username);
    });

    test('PUT /v2/users/me changes the default general access, which FOLLOW_USER_SETTING stores follow at once', T, async () => {
        const dana = await createUser(server, 'dana');
        const c = clientAs(server, dana.token);
        const s = await c.keyValueStores().getOrCreate(uniqueName('follow'));
        assert.equal(s.generalAccess, 'FOLLOW_USER_SETTING');
        await c.keyValueStore(s.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
        const anon = () => request(server, { path: recordPath(s.id, 'k'), token: false });
        assert.equal((await anon()).status, 401);
        assert.equal((await setDefaultAccess(server, dana.token, 'ANYONE_WITH_ID_CAN_READ')).defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ');
        assert.equal((await anon()).status, 200);
        // By name it still takes ANYONE_WITH_NAME_CAN_READ.
        assert.equal((await request(server, { path: recordPath(`${dana.username}~${s.name}`, 'k'), token: false })).status, 401);
        await setDefaultAccess(server, dana.token, 'ANYONE_WITH_NAME_CAN_READ');
        assert.equal((await request(server, { path: recordPath(`${dana.username}~${s.name}`, 'k'), token: false })).status, 200);
        await setDefaultAccess(server, dana.token, 'RESTRICTED');
        assert.equal((await anon()).status, 401);
        // Refused values and bodies.
        for (const body of [{ defaultGeneralAccess: 'FOLLOW_USER_SETTING' }, { defaultGeneralAccess: 'NOPE' }, {}, { defaultGeneralAccess: 7 }]) {
            assertApiError(await put('/v2/users/me', body, dana.token), 400, 'invalid-value', JSON.stringify(body));
        }
        // The admin may change anyone's.
        assert.equal(dataOf(await put(`/v2/users/${dana.username}`, { defaultGeneralAccess: 'ANYONE_WITH_ID_CAN_READ' })).defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ');
    });
});

describe('tokens', () => {
    test('a revoked token is refused at once, the user\'s other tokens keep working', T, async () => {
        const erin = await createUser(server, 'erin');
        const second = dataOf(await post(`/v2/users/${erin.username}/tokens`), 201);
        assert.match(second.token, /^kvs_[A-Za-z0-9]{40}$/);
        assert.equal(second.prefix, prefixOf(second.token));
        assert.equal(second.username, erin.username);
        const c = clientAs(server, second.token);
        const s = await c.keyValueStores().getOrCreate(uniqueName('erin'));
        assert.equal(dataOf(await request(server, { path: '/v2/users/me/tokens', token: erin.token })).count, 2);

        const del = await request(server, { method: 'DELETE', path: `/v2/tokens/${prefixOf(second.token)}` });
        assert.equal(del.status, 204);
        // The very next request with it fails, through raw HTTP and the client.
        assertApiError(await request(server, { path: storePath(s.id), token: second.token }), 401, 'user-or-token-not-found');
        await assert.rejects(c.keyValueStore(s.id).get(), (e) => e.statusCode === 401 && e.type === 'user-or-token-not-found');
        assert.equal((await request(server, { path: storePath(s.id), token: erin.token })).status, 200);
        assertApiError(await request(server, { method: 'DELETE', path: `/v2/tokens/${prefixOf(second.token)}` }), 404, 'record-not-found');
    });

    test('revoke by a shorter prefix, by the whole token; an ambiguous prefix revokes nothing', T, async () => {
        const fred = await createUser(server, 'fred');
        const t2 = dataOf(await post(`/v2/users/${fred.username}/tokens`), 201).token;
        assertApiError(await request(server, { method: 'DELETE', path: '/v2/tokens/kvs_' }), 400, 'invalid-parameter');
        assert.equal((await request(server, { path: '/v2/users/me', token: fred.token })).status, 200);
        // The whole token names exactly one.
        assert.equal((await request(server, { method: 'DELETE', path: `/v2/tokens/${t2}` })).status, 204);
        assert.equal((await request(server, { path: '/v2/users/me', token: t2 })).status, 401);
        // A prefix shorter than the listed one, when unique.
        assert.equal((await request(server, { method: 'DELETE', path: `/v2/tokens/${fred.token.slice(0, 10)}` })).status, 204);
        assert.equal((await request(server, { path: '/v2/users/me', token: fred.token })).status, 401);
    });

    test('a user may revoke their own tokens only; another user\'s prefix is not found', T, async () => {
        const gina = await createUser(server, 'gina');
        const hank = await createUser(server, 'hank');
        const g2 = dataOf(await post(`/v2/users/${gina.username}/tokens`), 201).token;
        assertApiError(await request(server, { method: 'DELETE', path: `/v2/tokens/${prefixOf(hank.token)}`, token: gina.token }), 404, 'record-not-found');
        assert.equal((await request(server, { path: '/v2/users/me', token: hank.token })).status, 200, "hank's token untouched");
        assert.equal((await request(server, { method: 'DELETE', path: `/v2/tokens/${prefixOf(g2)}`, token: gina.token })).status, 204);
        assert.equal((await request(server, { path: '/v2/users/me', token: g2 })).status, 401);
        // Revoking the token in use: this request still answers, the next one is refused.
        assert.equal((await request(server, { method: 'DELETE', path: `/v2/tokens/${prefixOf(gina.token)}`, token: gina.token })).status, 204);
        assert.equal((await request(server, { path: '/v2/users/me', token: gina.token })).status, 401);
    });
});

describe('shares and the store list', () => {
    test('sharing: READ, WRITE, take back; listed with the store; only the owner manages', T, async () => {
        const owner = await createUser(server, 'ivy');
        const mate = await createUser(server, 'jack');
        const oc = clientAs(server, owner.token);
        const mc = clientAs(server, mate.token);
        const s = await oc.keyValueStores().getOrCreate(uniqueName('team'));
        await oc.keyValueStore(s.id).setRecord({ key: 'k', value: 1 });

        assert.equal(await mc.keyValueStore(s.id).getRecord('k').catch((e) => e.statusCode), 403);
        assert.deepEqual(await share(server, owner.token, s.id, mate.username, 'READ'), { userId: mate.id, username: mate.username, access: 'READ' });
        assert.equal((await mc.keyValueStore(s.id).getRecord('k')).value, 1);
        assert.equal((await mc.keyValueStore(`${owner.username}~${s.name}`).getRecord('k')).value, 1, 'by username~name too');
        await assert.rejects(mc.keyValueStore(s.id).setRecord({ key: 'k', value: 2 }), (e) => e.statusCode === 403);

        await share(server, owner.token, s.id, mate.username, 'WRITE');
        await mc.keyValueStore(s.id).setRecord({ key: 'k', value: 2 });
        assert.equal((await oc.keyValueStore(s.id).getRecord('k')).value, 2);
        // WRITE is not ownership: no settings, no rename, no delete, no sharing.
        await assert.rejects(mc.keyValueStore(s.id).update({ name: uniqueName('stolen') }), (e) => e.statusCode === 403);
        await assert.rejects(mc.keyValueStore(s.id).update({ generalAccess: 'ANYONE_WITH_ID_CAN_READ' }), (e) => e.statusCode === 403);
        assertApiError(await request(server, { method: 'DELETE', path: storePath(s.id), token: mate.token }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { path: `${storePath(s.id)}/shares`, token: mate.token }), 403, 'insufficient-permissions');
        assertApiError(await put(`${storePath(s.id)}/shares/${mate.username}`, { access: 'WRITE' }, mate.token), 403, 'insufficient-permissions');

        const shares = dataOf(await request(server, { path: `${storePath(s.id)}/shares`, token: owner.token }));
        assert.deepEqual(shares.items, [{ userId: mate.id, username: mate.username, access: 'WRITE' }]);
        // Bad share requests.
        assertApiError(await put(`${storePath(s.id)}/shares/${mate.username}`, { access: 'ADMIN' }, owner.token), 400, 'invalid-value');
        assertApiError(await put(`${storePath(s.id)}/shares/${mate.username}`, {}, owner.token), 400, 'invalid-value');
        assertApiError(await put(`${storePath(s.id)}/shares/${owner.username}`, { access: 'READ' }, owner.token), 400, 'invalid-value');
        assertApiError(await put(`${storePath(s.id)}/shares/no-such-user`, { access: 'READ' }, owner.token), 404, 'record-not-found');

        // Taken back: refused at once; taking back again is still 204.
        assert.equal((await request(server, { method: 'DELETE', path: `${storePath(s.id)}/shares/${mate.username}`, token: owner.token })).status, 204);
        assert.equal(await mc.keyValueStore(s.id).getRecord('k').catch((e) => e.statusCode), 403);
        assert.equal((await request(server, { method: 'DELETE', path: `${storePath(s.id)}/shares/${mate.username}`, token: owner.token })).status, 204);
        assert.equal(dataOf(await request(server, { path: `${storePath(s.id)}/shares`, token: owner.token })).count, 0);
        // The admin manages any store's shares.
        assert.equal((await put(`${storePath(s.id)}/shares/${mate.username}`, { access: 'READ' })).status, 200);
    });

    test('GET /v2/key-value-stores: own and shared stores, marked, ownership filter, paging across both', T, async () => {
        const me = await createUser(server, 'kim');
        const them = await createUser(server, 'lou');
        const mine = clientAs(server, me.token);
        const theirs = clientAs(server, them.token);
        const a = await mine.keyValueStores().getOrCreate(uniqueName('a'));
        const b = await theirs.keyValueStores().getOrCreate(uniqueName('b'));
        const c = await mine.keyValueStores().getOrCreate(uniqueName('c'));
        const d = await theirs.keyValueStores().getOrCreate(uniqueName('d'));
        const notShared = await theirs.keyValueStores().getOrCreate(uniqueName('e'));
        await share(server, them.token, b.id, me.username, 'READ');
        await share(server, them.token, d.id, me.username, 'WRITE');

        const all = await mine.keyValueStores().list();
        assert.equal(all.total, 4);
        assert.deepEqual(all.items.map((s) => s.id), [a.id, b.id, c.id, d.id], 'creation order across own and shared');
        const byId = Object.fromEntries(all.items.map((s) => [s.id, s]));
        assert.equal(byId[a.id].sharedWithMe, false);
        assert.equal(byId[a.id].access, undefined);
        assert.equal(byId[b.id].sharedWithMe, true);
        assert.equal(byId[b.id].access, 'READ');
        assert.equal(byId[b.id].username, them.username);
        assert.equal(byId[b.id].urlSigningSecretKey, undefined, 'READ: no secret');
        assert.equal(byId[d.id].access, 'WRITE');
        assert.match(byId[d.id].urlSigningSecretKey, /^[A-Za-z0-9]{32}$/, 'WRITE: the secret');
        assert.ok(!all.items.some((s) => s.id === notShared.id));

        const own = await mine.keyValueStores().list({ ownership: 'ownedByMe' });
        assert.deepEqual(own.items.map((s) => s.id), [a.id, c.id]);
        const shared = await mine.keyValueStores().list({ ownership: 'sharedWithMe' });
        assert.deepEqual(shared.items.map((s) => s.id), [b.id, d.id]);
        const page = await mine.keyValueStores().list({ offset: 1, limit: 2, desc: true });
        assert.equal(page.total, 4);
        assert.deepEqual(page.items.map((s) => s.id), [c.id, b.id]);
        assertApiError(await request(server, { path: '/v2/key-value-stores?ownership=everything', token: me.token }), 400, 'invalid-parameter');

        // Deleting a shared store drops it from the list; so does taking the share back.
        await theirs.keyValueStore(d.id).delete();
        await request(server, { method: 'DELETE', path: `${storePath(b.id)}/shares/${me.username}`, token: them.token });
        assert.deepEqual((await mine.keyValueStores().list()).items.map((s) => s.id), [a.id, c.id]);
        assert.equal((await mine.keyValueStores().list({ ownership: 'sharedWithMe' })).total, 0);
    });

    test('username~name resolves within that user; ~name and a bare name are the caller\'s own', T, async () => {
        const m = await createUser(server, 'max');
        const n = await createUser(server, 'ned');
        const name = uniqueName('same');
        const ms1 = await clientAs(server, m.token).keyValueStores().getOrCreate(name);
        const ns1 = await clientAs(server, n.token).keyValueStores().getOrCreate(name);
        assert.notEqual(ms1.id, ns1.id);
        const admin = makeClient(server);
        assert.equal((await admin.keyValueStore(`${m.username}~${name}`).get()).id, ms1.id);
        assert.equal((await admin.keyValueStore(`${n.username}~${name}`).get()).id, ns1.id);
        assert.equal((await clientAs(server, n.token).keyValueStore(`~${name}`).get()).id, ns1.id);
        assert.equal(dataOf(await request(server, { path: storePath(name), token: m.token })).id, ms1.id);
        // Another user's store by name without a share: as if it did not exist.
        assert.equal(await clientAs(server, n.token).keyValueStore(`${m.username}~${name}`).get(), undefined);
        const res = await request(server, { path: storePath(`${m.username}~${name}`), token: n.token });
        assertApiError(res, 404, 'record-not-found');
        assert.ok(!res.text.includes(m.username) && !res.text.includes(name), 'the error names nothing of theirs');
    });
});

describe('--default-general-access', { skip: !CAN_SPAWN && 'needs a server of its own' }, () => {
    test('new users get the server-wide default; a bad value stops the server with 2', T, async () => {
        const srv = await startServer({ args: ['--default-general-access', 'ANYONE_WITH_ID_CAN_READ'] });
        try {
            const res = await request(srv, { method: 'POST', path: '/v2/users', headers: JSON_HEADERS, body: JSON.stringify({ username: 'olga' }) });
            const u = dataOf(res, 201);
            assert.equal(u.defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ');
            assert.equal(dataOf(await request(srv, { path: '/v2/users/me' })).defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ', 'the admin too');
            const c = clientAs(srv, u.token);
            const s = await c.keyValueStores().getOrCreate('open-by-default');
            await c.keyValueStore(s.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
            assert.equal((await request(srv, { path: recordPath(s.id, 'k'), token: false })).status, 200);
            assert.equal((await request(srv, { path: recordPath('olga~open-by-default', 'k'), token: false })).status, 401);
        } finally {
            await srv.stop();
        }
        for (const bad of ['FOLLOW_USER_SETTING', 'restricted', '']) {
            const r = await runKvs(['serve', '--default-general-access', bad, '--listen', '127.0.0.1:0', '--data', '/nonexistent/x']);
            assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
            assert.match(r.stderr, /default-general-access/);
        }
    });
});

describe('kvs user, token, share, unshare', { skip: !CAN_SPAWN && 'needs a server of its own' }, () => {
    /** The token a command printed: the last line of its output. */
    function printedToken(r) {
        const lines = r.stdout.trim().split('\n');
        const t = lines[lines.length - 1];
        assert.match(t, /^kvs_[A-Za-z0-9]{40}$/, `a token on the last line:\n${r.stdout}`);
        return t;
    }

    function ok(r, what) {
        assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
        return r;
    }

    test('with --data on a stopped server\'s directory, then served: the changes hold', { ...T, skip: LMDB_ONLY }, async () => {
        const first = await startServer({ keepData: true });
        const dir = first.dataDir;
        const s = await makeClient(first).keyValueStores().getOrCreate('cli-store');
        await makeClient(first).keyValueStore(s.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
        await first.stop();

        const add = ok(await runKvs(['user', 'add', 'pat', '--data', dir]), 'user add');
        assert.match(add.stdout, /created user pat/);
        const patToken = printedToken(add);
        assert.equal((await runKvs(['user', 'add', 'pat', '--data', dir])).code, 1, 'a second pat');
        const list = ok(await runKvs(['user', 'list', '--data', dir]), 'user list');
        assert.match(list.stdout, /^admin\s/m);
        assert.match(list.stdout, /^pat\s+[A-Za-z0-9]{17}\s+-\s+RESTRICTED/m);
        const t2 = printedToken(ok(await runKvs(['token', 'create', 'pat', '--data', dir]), 'token create'));
        const tokens = ok(await runKvs(['token', 'list', 'pat', '--data', dir]), 'token list');
        assert.ok(tokens.stdout.includes(prefixOf(patToken)) && tokens.stdout.includes(prefixOf(t2)));
        assert.ok(!tokens.stdout.includes(patToken), 'never the token itself');
        ok(await runKvs(['token', 'revoke', prefixOf(t2), '--data', dir]), 'token revoke');
        ok(await runKvs(['share', 'admin~cli-store', 'pat', '--read', '--data', dir]), 'share');

        const again = await startServer({ dataDir: dir, token: first.token });
        try {
            assert.equal((await request(again, { path: recordPath(s.id, 'k'), token: patToken })).text, 'v', 'shared: pat reads');
            assert.equal((await request(again, { path: '/v2/users/me', token: t2 })).status, 401, 'revoked');
            // --data while the server runs: seen by its very next request.
            ok(await runKvs(['unshare', s.id, 'pat', '--data', dir]), 'unshare');
            assert.equal((await request(again, { path: recordPath(s.id, 'k'), token: patToken })).status, 403);
            ok(await runKvs(['share', s.id, 'pat', '--write', '--data', dir]), 'share --write');
            assert.equal((await request(again, { method: 'PUT', path: recordPath(s.id, 'w'), token: patToken, headers: { 'Content-Type': 'text/plain' }, body: 'x' })).status, 201);
            ok(await runKvs(['token', 'revoke', patToken, '--data', dir]), 'revoke the whole token');
            assertApiError(await request(again, { path: '/v2/users/me', token: patToken }), 401, 'user-or-token-not-found');
        } finally {
            await again.stop();
            await fs.rm(path.dirname(dir), { recursive: true, force: true });
        }
    });

    test('with --url and the admin token, against a running server', T, async () => {
        const env = { KVS_URL: server.url, KVS_TOKEN: server.token };
        const name = uniqueName('quinn');
        const add = ok(await runKvs(['user', 'add', name, '--default-general-access', 'ANYONE_WITH_ID_CAN_READ'], { env }), 'user add');
        const token = printedToken(add);
        assert.equal(dataOf(await request(server, { path: '/v2/users/me', token })).defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ');
        assert.match(ok(await runKvs(['user', 'list'], { env }), 'user list').stdout, new RegExp(`^${name}\\s`, 'm'));
        const t2 = printedToken(ok(await runKvs(['token', 'create', name, '--url', server.url, '--token', server.token]), 'token create'));
        assert.ok(ok(await runKvs(['token', 'list', name], { env }), 'token list').stdout.includes(prefixOf(t2)));
        ok(await runKvs(['token', 'revoke', prefixOf(t2)], { env }), 'token revoke');
        assert.equal((await request(server, { path: '/v2/users/me', token: t2 })).status, 401, 'refused at once');

        // share / unshare as a store's owner, with the owner's token.
        const owner = await createUser(server, 'rita');
        const s = await clientAs(server, owner.token).keyValueStores().getOrCreate(uniqueName('cli'));
        const ownerEnv = { KVS_URL: server.url, KVS_TOKEN: owner.token };
        ok(await runKvs(['share', s.name, name, '--read'], { env: ownerEnv }), 'share by bare name');
        assert.equal((await request(server, { path: storePath(s.id), token })).status, 200);
        ok(await runKvs(['unshare', `${owner.username}~${s.name}`, name], { env: ownerEnv }), 'unshare');
        assert.equal((await request(server, { path: storePath(s.id), token })).status, 403);

        // Refusals are one line on stderr and exit 1.
        const denied = await runKvs(['user', 'list'], { env: ownerEnv });
        assert.equal(denied.code, 1);
        assert.match(denied.stderr, /HTTP 403/);
        assert.equal(denied.stderr.trim().split('\n').length, 1);
        const ambiguous = await runKvs(['token', 'revoke', 'kvs_'], { env });
        assert.equal(ambiguous.code, 1);
        assert.match(ambiguous.stderr, /more than one token/);
    });

    test('usage errors exit 2', T, async () => {
        const env = { KVS_URL: '', KVS_TOKEN: '' };
        for (const args of [
            ['user'],
            ['user', 'frob'],
            ['user', 'add'],
            ['user', 'add', 'a', 'b', '--data', '/tmp/x'],
            ['token', 'create', 'x'], // neither --data nor --url
            ['share', 's', 'u', '--data', '/tmp/x'], // no --read/--write
            ['share', 's', 'u', '--read', '--write', '--data', '/tmp/x'],
            ['user', 'list', '--data', '/tmp/x', '--url', 'http://x'],
            ['user', 'list', '--bogus'],
            ['user', 'add', 'x', '--default-general-access', 'FOLLOW_USER_SETTING', '--data', '/tmp/x'],
        ]) {
            const r = await runKvs(args, { env });
            assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
            assert.ok(r.stderr.trim().length > 0);
        }
        const missing = await runKvs(['user', 'list', '--data', '/nonexistent/kvs-data']);
        assert.equal(missing.code, 1, 'a directory that holds no data is an error, not created');
        assert.match(missing.stderr, /not a kvs data directory/);
        const help = await runKvs(['help']);
        assert.equal(help.code, 0);
        for (const word of ['serve', 'user add', 'token revoke', 'share', 'unshare']) assert.ok(help.stdout.includes(word), word);
    });
});
