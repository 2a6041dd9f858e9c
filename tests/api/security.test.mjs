// The security round (issue 19), one class per describe, each tried in several variants:
//   - a removed or lowered WRITE sharer's links end, and owners rotate the signing key;
//   - one client address cannot take every connection;
//   - the rate limiter keys on the token as authenticated, and charges invalid tokens to the IP;
//   - what an expiring keys link grants (its record links) expires with it;
//   - no token or signature reaches the access log whole;
//   - out-of-range numbers in the query are refused.
// (Ambiguous framing: framing.test.mjs.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
    assertApiError,
    dataOf,
    makeClient,
    makeTempDir,
    ms,
    NEEDS_SPAWN,
    randomToken,
    request,
    runKvs,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';
import { clientAs, createUser, share } from '../lib/users.mjs';

const T = { timeout: ms(120_000), skip: NEEDS_SPAWN };

/** The path and query of URL, to send to the server under test. */
function target(url) {
    const u = new URL(url);
    return u.pathname + u.search;
}

/** GET a public link without a token. */
function fetchLink(server, url, method = 'GET') {
    return request(server, { path: target(url), token: false, method, headers: { 'Accept-Encoding': 'identity' } });
}

/** One GET /health over a socket of its own from LOCAL (a loopback address). Resolves with
 *  the status, or 0 when nothing came within TIMEOUT_MS. */
function healthFrom(server, local, timeoutMs = ms(3000)) {
    return new Promise((resolve) => {
        const sock = net.connect({ port: server.port, host: '127.0.0.1', localAddress: local });
        let buf = '';
        const done = (status) => {
            clearTimeout(timer);
            sock.destroy();
            resolve(status);
        };
        const timer = setTimeout(() => done(0), timeoutMs);
        sock.on('error', () => done(0));
        sock.on('connect', () => sock.write('GET /health HTTP/1.1\r\nHost: a\r\n\r\n'));
        sock.on('data', (d) => {
            buf += d.toString('latin1');
            const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
            if (m) done(Number(m[1]));
        });
    });
}

// ---- 3: signing keys ---------------------------------------------------------------------

describe('a WRITE sharer losing the right, and the owner rotating the key, end every link', T, () => {
    let server;
    let owner;
    let writer;
    let ownerClient;
    before(async () => {
        server = await startServer();
        owner = await createUser(server, 'owner');
        writer = await createUser(server, 'writer');
        ownerClient = clientAs(server, owner.token);
    });
    after(async () => server?.stop());

    /** A restricted store of the owner with records a and b, shared with the writer for WRITE. */
    async function sharedStore() {
        const s = await ownerClient.keyValueStores().getOrCreate(uniqueName('signed'));
        const kvs = ownerClient.keyValueStore(s.id);
        await kvs.update({ generalAccess: 'RESTRICTED' });
        await kvs.setRecord({ key: 'a', value: { a: 1 } });
        await kvs.setRecord({ key: 'b', value: { b: 2 } });
        await share(server, owner.token, s.id, writer.username, 'WRITE');
        return s;
    }

    /** Every kind of link the writer can make from what the API gives them. */
    async function writersLinks(id) {
        const wc = clientAs(server, writer.token).keyValueStore(id);
        const s = await wc.get();
        assert.match(s.urlSigningSecretKey, /^[A-Za-z0-9]{32}$/, 'a writer sees the secret');
        const keys = dataOf(await request(server, { path: `${storePath(id)}/keys`, token: writer.token }));
        return {
            'the record link of getRecordPublicUrl()': await wc.getRecordPublicUrl('a'),
            'a record link from the key list': keys.items[0].recordPublicUrl,
            'an expiring keys link': await wc.createKeysPublicUrl({ expiresInSecs: 3600 }),
            'a keys link that never expires': await wc.createKeysPublicUrl(),
            'the keysPublicUrl': s.keysPublicUrl,
            'the recordsPublicUrl (ZIP)': s.recordsPublicUrl,
        };
    }

    async function assertAllWork(links, context) {
        for (const [what, url] of Object.entries(links)) {
            const res = await fetchLink(server, url);
            assert.equal(res.status, 200, `${context}: ${what} works: ${res.text.slice(0, 200)}`);
        }
    }

    async function assertAllDead(links, context) {
        for (const [what, url] of Object.entries(links)) {
            for (const method of ['GET', 'HEAD']) {
                const res = await fetchLink(server, url, method);
                assert.equal(res.status, 403, `${context}: ${method} ${what} opens nothing any more`);
            }
        }
    }

    test('taking the WRITE share back', async () => {
        const s = await sharedStore();
        const links = await writersLinks(s.id);
        await assertAllWork(links, 'while shared');
        const res = await request(server, { method: 'DELETE', path: `${storePath(s.id)}/shares/${writer.username}`, token: owner.token });
        assert.equal(res.status, 204);
        await assertAllDead(links, 'after the share was taken back');
        // the owner's own new links work
        const fresh = await ownerClient.keyValueStore(s.id).getRecordPublicUrl('a');
        assert.equal((await fetchLink(server, fresh)).status, 200);
    });

    test('lowering the share to READ', async () => {
        const s = await sharedStore();
        const links = await writersLinks(s.id);
        await share(server, owner.token, s.id, writer.username, 'READ');
        await assertAllDead(links, 'after WRITE became READ');
        const seen = await clientAs(server, writer.token).keyValueStore(s.id).get();
        assert.equal(seen.urlSigningSecretKey, undefined, 'a reader sees no secret');
    });

    test('READ shares coming and going, and WRITE given again, change nothing', async () => {
        const s = await sharedStore();
        const reader = await createUser(server, 'reader');
        const links = await writersLinks(s.id);
        await share(server, owner.token, s.id, reader.username, 'READ');
        await request(server, { method: 'DELETE', path: `${storePath(s.id)}/shares/${reader.username}`, token: owner.token });
        await share(server, owner.token, s.id, writer.username, 'WRITE');
        await ownerClient.keyValueStore(s.id).update({ title: 'still the same key' });
        await assertAllWork(links, 'after unrelated changes');
    });

    test('POST /v2/key-value-stores/{store}/rotate-signing-key: the owner ends every link at once', async () => {
        const s = await sharedStore();
        const links = await writersLinks(s.id);
        const before = (await ownerClient.keyValueStore(s.id).get()).urlSigningSecretKey;
        const res = await request(server, { method: 'POST', path: `${storePath(s.id)}/rotate-signing-key`, token: owner.token });
        const after = dataOf(res);
        assert.equal(after.id, s.id);
        assert.match(after.urlSigningSecretKey, /^[A-Za-z0-9]{32}$/);
        assert.notEqual(after.urlSigningSecretKey, before);
        await assertAllDead(links, 'after the rotation');
        assert.equal((await fetchLink(server, after.keysPublicUrl)).status, 200, 'the new keysPublicUrl works');
        // by name too, and for the admin
        const byName = await request(server, { method: 'POST', path: `${storePath(`${owner.username}~${s.name}`)}/rotate-signing-key`, token: server.token });
        assert.notEqual(dataOf(byName).urlSigningSecretKey, after.urlSigningSecretKey);
    });

    test('only the owner and the admin may rotate', async () => {
        const s = await sharedStore();
        const stranger = await createUser(server, 'stranger');
        const p = `${storePath(s.id)}/rotate-signing-key`;
        assertApiError(await request(server, { method: 'POST', path: p, token: writer.token }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { method: 'POST', path: p, token: stranger.token }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { method: 'POST', path: p, token: false }), 401, 'token-not-provided');
        assertApiError(await request(server, { method: 'POST', path: `${storePath('AAAAAAAAAAAAAAAAA')}/rotate-signing-key` }), 404, 'record-not-found');
        assertApiError(await request(server, { method: 'GET', path: p }), 405, 'method-not-allowed');
        const links = await writersLinks(s.id);
        await assertAllWork(links, 'refused rotations changed nothing');
    });

    test('kvs rotate-key STORE', async () => {
        const s = await sharedStore();
        const links = await writersLinks(s.id);
        const env = { KVS_URL: server.url, KVS_TOKEN: owner.token };
        const out = await runKvs(['rotate-key', s.name], { env });
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stdout, /new signing key for store .* links signed before no longer work/);
        await assertAllDead(links, 'after kvs rotate-key');
        const json = await runKvs(['rotate-key', s.id, '--json'], { env });
        assert.equal(json.code, 0, json.stderr);
        assert.match(JSON.parse(json.stdout).urlSigningSecretKey, /^[A-Za-z0-9]{32}$/);
        const denied = await runKvs(['rotate-key', s.id], { env: { KVS_URL: server.url, KVS_TOKEN: writer.token } });
        assert.equal(denied.code, 1);
        assert.match(denied.stderr, /403/);
    });
});

// ---- 5: connections ----------------------------------------------------------------------

describe('one client address cannot take every connection (defaults)', T, () => {
    test('1,100 idle sockets from 127.0.0.1 (more than the whole server took before) leave 127.0.0.2 served, and are cut down to the per-IP cap', async () => {
        const server = await startServer();
        const socks = [];
        try {
            let closedByServer = 0;
            for (let i = 0; i < 1100; i++) {
                const s = net.connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.1' });
                s.on('error', () => {});
                s.on('close', () => closedByServer++);
                // half of them start a request and never finish it
                if (i % 2) s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: a\r\n'));
                socks.push(s);
                if (i % 100 === 99) await sleep(10);
            }
            await sleep(ms(500));
            assert.equal(await healthFrom(server, '127.0.0.2'), 200, 'another address is served at once');
            assert.ok(closedByServer >= 1100 - 1024, `the server kept at most 1024 of them (${1100 - closedByServer} open)`);
            // and the first address itself, once it lets go
            for (const s of socks) s.destroy();
            await sleep(ms(300));
            assert.equal(await healthFrom(server, '127.0.0.1'), 200);
        } finally {
            for (const s of socks) s.destroy();
            await server.stop();
        }
    });

    test('--first-byte-timeout: a new connection that sends nothing is closed; one that sent its request line gets --header-timeout', async () => {
        const server = await startServer({ args: ['--first-byte-timeout', '1', '--header-timeout', '4'] });
        try {
            const t0 = Date.now();
            const closedAt = (write) =>
                new Promise((resolve) => {
                    const s = net.connect(server.port, '127.0.0.1');
                    s.on('error', () => {});
                    if (write) s.on('connect', () => s.write(write));
                    s.on('close', () => resolve(Date.now() - t0));
                    setTimeout(() => s.destroy(), ms(10_000));
                });
            const [idle, started] = await Promise.all([closedAt(null), closedAt('GET /health HTTP/1.1\r\n')]);
            assert.ok(idle >= 800 && idle < ms(3000), `idle socket closed after about 1 s (${idle} ms)`);
            assert.ok(started >= 3500, `a started request gets the header deadline (${started} ms)`);
        } finally {
            await server.stop();
        }
    });

    test('the options are checked', async () => {
        for (const [opt, v] of [['--first-byte-timeout', '-1'], ['--first-byte-timeout', 'x'], ['--max-connections-per-ip', '100001']]) {
            const out = await runKvs(['serve', opt, v]);
            assert.equal(out.code, 2, `${opt} ${v}`);
        }
        const help = await runKvs(['serve', '--help']);
        assert.match(help.stdout, /--first-byte-timeout SECS/);
        assert.match(help.stdout, /default\s+1024/);
    });
});

// ---- 6: rate limiting --------------------------------------------------------------------

describe('--rate-limit keys on the token as authenticated, and charges invalid tokens to the address', T, () => {
    let server;
    before(async () => {
        server = await startServer({ args: ['--rate-limit', '1'] });
    });
    after(async () => server?.stop());

    const get = (headers, query = '') => request(server, { path: `/v2/users/me${query}`, token: false, headers });
    const wait = () => sleep(1100); // a full bucket again (1 a second)

    test('every spelling of one token is one caller', async () => {
        const user = await createUser(server, 'rl');
        await wait();
        const t = user.token;
        const spellings = [
            [{ Authorization: `Bearer ${t}` }, ''],
            [{ Authorization: `Bearer   ${t}   ` }, ''],
            [{ Authorization: `bearer ${t}` }, ''],
            [{ Authorization: `BEARER \t${t}\t` }, ''],
            [{}, `?token=${t}`],
            [{}, `?token=${t}&x=1`],
        ];
        for (let i = 1; i < spellings.length; i++) {
            await wait();
            const first = await get(...spellings[0]);
            assert.equal(first.status, 200, first.text);
            const again = await get(...spellings[i]);
            assertApiError(again, 429, 'rate-limit-exceeded', `spelling ${i} shares the bucket`);
            assert.ok(Number(again.headers['retry-after']) >= 1);
        }
    });

    test('random invalid tokens are charged to the client address, with requests without one', async () => {
        await wait();
        const first = await get({ Authorization: `Bearer ${randomToken()}` });
        assertApiError(first, 401, 'user-or-token-not-found');
        for (const headers of [{ Authorization: `Bearer ${randomToken()}` }, {}, { Authorization: `Bearer ${randomToken()}x` }]) {
            assertApiError(await get(headers), 429, 'rate-limit-exceeded', JSON.stringify(headers));
        }
        await wait();
        assertApiError(await get({}), 401, 'token-not-provided'); // anonymous: the same bucket
        assertApiError(await get({ Authorization: `Bearer ${randomToken()}` }), 429, 'rate-limit-exceeded');
        // another address has a bucket of its own
        assert.equal(await healthFrom(server, '127.0.0.3'), 200);
    });

    test('a valid token is not held back by the invalid ones of its address', async () => {
        const user = await createUser(server, 'rl2');
        await wait();
        assert.equal((await get({ Authorization: `Bearer ${user.token}` })).status, 200); // now known
        assertApiError(await get({ Authorization: `Bearer ${randomToken()}` }), 401, 'user-or-token-not-found');
        assertApiError(await get({ Authorization: `Bearer ${randomToken()}` }), 429, 'rate-limit-exceeded');
        await wait();
        assertApiError(await get({ Authorization: `Bearer ${randomToken()}` }), 401, 'user-or-token-not-found');
        assert.equal((await get({ Authorization: `Bearer ${user.token}` })).status, 200, 'its own bucket');
    });
});

// ---- 8: links that expire ----------------------------------------------------------------

describe('what an expiring keys link grants expires with it', T, () => {
    let server;
    let owner;
    let store;
    let kvs;
    before(async () => {
        server = await startServer();
        owner = await createUser(server, 'owner');
        const c = clientAs(server, owner.token);
        store = await c.keyValueStores().getOrCreate(uniqueName('expiring'));
        kvs = c.keyValueStore(store.id);
        await kvs.update({ generalAccess: 'RESTRICTED' });
        for (const key of ['a', 'b', 'c']) await kvs.setRecord({ key, value: { key } });
    });
    after(async () => server?.stop());

    test('record links from a list opened by an expiring keys signature stop with it', async () => {
        const keysUrl = await kvs.createKeysPublicUrl({ expiresInSecs: 2 });
        const list = dataOf(await fetchLink(server, keysUrl));
        assert.equal(list.items.length, 3);
        const expires = Number(Buffer.from(new URL(keysUrl).searchParams.get('signature'), 'base64url').toString().split('.')[1]);
        for (const item of list.items) {
            const sig = new URL(item.recordPublicUrl).searchParams.get('signature');
            const payload = Buffer.from(sig, 'base64url').toString();
            assert.equal(payload.split('.')[0], '1', `an expiring record signature: ${payload}`);
            assert.equal(Number(payload.split('.')[1]), expires, 'with the key list\'s expiry');
            assert.equal((await fetchLink(server, item.recordPublicUrl)).status, 200);
            assert.equal((await fetchLink(server, item.recordPublicUrl, 'HEAD')).status, 200);
        }
        // not for another record
        const a = list.items.find((i) => i.key === 'a').recordPublicUrl;
        const onB = a.replace('/records/a?', '/records/b?');
        assert.equal((await fetchLink(server, onB)).status, 403);
        await sleep(Math.max(0, expires - Date.now()) + 200);
        for (const item of list.items) assert.equal((await fetchLink(server, item.recordPublicUrl)).status, 403, `${item.key} after the expiry`);
        assert.equal((await fetchLink(server, keysUrl)).status, 403);
    });

    test('a keys link that never expires gives record links that do not either; a writer gets plain ones', async () => {
        const forever = dataOf(await fetchLink(server, await kvs.createKeysPublicUrl()));
        const mine = dataOf(await request(server, { path: `${storePath(store.id)}/keys`, token: owner.token }));
        for (const list of [forever, mine]) {
            const sig = new URL(list.items[0].recordPublicUrl).searchParams.get('signature');
            assert.match(sig, /^[A-Za-z0-9]{1,21}$/, 'a plain record signature');
            assert.equal((await fetchLink(server, list.items[0].recordPublicUrl)).status, 200);
        }
    });

    test('an expiring record signature is no keys signature, and the rotated key ends it too', async () => {
        const list = dataOf(await fetchLink(server, await kvs.createKeysPublicUrl({ expiresInSecs: 3600 })));
        const sig = new URL(list.items[0].recordPublicUrl).searchParams.get('signature');
        assert.equal((await fetchLink(server, `${server.url}${storePath(store.id)}/keys?signature=${sig}`)).status, 403);
        await request(server, { method: 'POST', path: `${storePath(store.id)}/rotate-signing-key`, token: owner.token });
        assert.equal((await fetchLink(server, list.items[0].recordPublicUrl)).status, 403);
    });
});

// ---- 9: the access log -------------------------------------------------------------------

describe('no token or signature reaches the access log whole', T, () => {
    for (const format of ['text', 'json']) {
        test(`--log-format ${format}`, async () => {
            const dir = await makeTempDir('kvs-log-');
            const log = path.join(dir, 'access.log');
            const server = await startServer({ args: ['--access-log', log, '--log-format', format] });
            try {
                const user = await createUser(server, 'logged');
                const c = makeClient(server);
                const s = await c.keyValueStores().getOrCreate(uniqueName('logged'));
                const secrets = [server.token, user.token];
                // revoking by the whole token puts it in the path
                const revoke = await request(server, { method: 'DELETE', path: `/v2/tokens/${user.token}` });
                assert.equal(revoke.status, 204);
                // a token and a signature in the query, a token pasted into other paths
                await request(server, { path: `/v2/users/me?token=${server.token}`, token: false });
                const keysUrl = await c.keyValueStore(s.id).createKeysPublicUrl();
                const sig = new URL(keysUrl).searchParams.get('signature');
                secrets.push(sig);
                await fetchLink(server, keysUrl);
                await request(server, { path: `/v2/key-value-stores/${server.token}/keys` });
                await request(server, { path: `/v2/tokens/${server.token}/x` });
                await request(server, { method: 'DELETE', path: `/v2/tokens/${encodeURIComponent(server.token)}` }); // 404, still logged
                await sleep(200);
                const text = await fs.readFile(log, 'utf8');
                assert.ok(text.split('\n').length >= 7, text);
                for (const secret of secrets) {
                    assert.ok(!text.includes(secret), `the log holds no ${secret.slice(0, 6)}...: ${text}`);
                    assert.ok(!text.includes(secret.slice(0, Math.ceil(secret.length / 2) + 1)), 'nor more than half of it');
                }
                assert.ok(text.includes(`/v2/tokens/${user.token.slice(0, 12)}...`), 'the revoked token is named by its prefix');
            } finally {
                await server.stop();
                await fs.rm(dir, { recursive: true, force: true });
            }
        });
    }
});

// ---- 10: numbers in the query ------------------------------------------------------------

describe('out-of-range numbers in the query are refused (400) everywhere', T, () => {
    let server;
    let store;
    before(async () => {
        server = await startServer();
        store = await makeClient(server).keyValueStores().getOrCreate(uniqueName('numbers'));
    });
    after(async () => server?.stop());

    const TOO_BIG = ['9223372036854775808', '18446744073709551615', '18446744073709551616', '9007199254740992', '99999999999999999999999'];
    const BAD = ['-1', '+1', ' 1', '1e3', '0x10', '1.5', '', 'abc'];

    test('offset and limit of the store list, the user list and the key list', async () => {
        const places = [
            ['/v2/key-value-stores', 'offset'],
            ['/v2/key-value-stores', 'limit'],
            ['/v2/users', 'offset'],
            ['/v2/users', 'limit'],
            [`${storePath(store.id)}/keys`, 'limit'],
            ['/v2/actor-runs', 'offset'],
            ['/v2/actor-runs', 'limit'],
        ];
        for (const [p, name] of places) {
            for (const v of [...TOO_BIG, ...BAD.filter((b) => b !== '')]) {
                const res = await request(server, { path: `${p}?${name}=${encodeURIComponent(v)}` });
                assertApiError(res, 400, 'invalid-parameter', `${p} ${name}=${v}`);
                assert.match(res.json().error.message, /9007199254740991/);
            }
        }
    });

    test('the largest number taken is echoed exactly', async () => {
        for (const p of ['/v2/key-value-stores', '/v2/users', '/v2/actor-runs']) {
            const data = dataOf(await request(server, { path: `${p}?offset=9007199254740991` }));
            assert.equal(data.offset, 9007199254740991);
            assert.equal(data.items.length, 0);
        }
        const keys = dataOf(await request(server, { path: `${storePath(store.id)}/keys?limit=9007199254740991` }));
        assert.equal(keys.limit, 1000, 'a limit past the maximum is the maximum, as the platform does');
    });
});
