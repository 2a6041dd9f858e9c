// messages.test.mjs — what the command line says when things go wrong (issue 21): one message
// per situation whichever command meets it and whichever way it runs (through a server or on a
// data directory), a server that is down (told while the retries wait, on a terminal, and
// named at the end), binary values kept off the terminal, a bare name standing for a store
// shared with the user, and a value too large for the server.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { KVS_BIN, NEEDS_SPAWN, freePort, ms, startServer, uniqueName } from '../lib/server.mjs';
import { createUser, share } from '../lib/users.mjs';
import { kvs, onTerminal, serverFixture, shq, show } from './lib.mjs';

const T = { timeout: ms(120_000) };

function ok(r, what = '') {
    assert.equal(r.code, 0, `${what}\n${show(r)}`);
    return r;
}

/** Asserts a failure: exit CODE, nothing on stdout, one line on stderr; returns that line. */
function fails(r, code, re) {
    assert.equal(r.code, code, show(r));
    assert.equal(r.out, '', 'nothing on stdout');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
    if (re) assert.match(lines[0], re);
    return lines[0];
}

describe('one message per situation', { skip: NEEDS_SPAWN }, () => {
    let server, tmp;
    const ctx = serverFixture('kvs-msg-');
    before(() => ({ server, tmp } = ctx));

    test('a missing store is "no store" for every command that names one, with how other stores are named', T, async () => {
        const missing = uniqueName('gone');
        const runs = [['info', missing], ['rm', missing], ['rename', missing, 'x'], ['keys', missing], ['get', missing, 'k'], ['get-value', missing, 'k'], ['exists', missing, 'k'], ['del', missing, 'k'], ['url', missing], ['url', missing, 'k'], ['set-value', missing, 'k', 'v']];
        for (const args of runs) {
            const line = fails(await kvs(server, args), 3);
            assert.equal(line, `kvs: no store '${missing}' (HTTP 404) — a name alone is one of your own stores (or the one of that name shared with you); another user's is USERNAME~${missing}, or its ID`, args.join(' '));
        }
        fails(await kvs(server, ['set', missing, 'k', '-'], { input: 'v' }), 3, new RegExp(`^kvs: no store '${missing}' \\(HTTP 404\\)`));
        fails(await kvs(server, ['export', missing, path.join(tmp, 'exp')]), 3, new RegExp(`^kvs: no store '${missing}' \\(HTTP 404\\)`));
        // by USERNAME~NAME: no hint, it is already the full name
        fails(await kvs(server, ['info', `admin~${missing}`]), 3, new RegExp(`^kvs: no store 'admin~${missing}' \\(HTTP 404\\)$`));
        // on a data directory, the same words without the HTTP status
        fails(await kvs(null, ['share', `admin~${missing}`, 'admin', '--read', '--data', server.dataDir]), 3, new RegExp(`^kvs: no store 'admin~${missing}'$`));
    });

    test('a missing record is "no record" for get, get-value, get-record and exists alike (a HEAD has no words of its own)', T, async () => {
        const store = uniqueName('msg');
        ok(await kvs(server, ['create', store]));
        const want = `kvs: no record 'nope' in store '${store}' (HTTP 404)`;
        for (const args of [['get', store, 'nope'], ['get-value', store, 'nope'], ['get-record', '--store-name', store, '--key', 'nope'], ['exists', store, 'nope'], ['get', store, 'nope', '-o', path.join(tmp, 'nope')]]) {
            assert.equal(fails(await kvs(server, args), 3), want, args.join(' '));
        }
    });

    test('users, tokens and shares: the same words through the server and on the data directory', T, async () => {
        const both = async (args) => [await kvs(server, args), await kvs(null, [...args, '--data', server.dataDir])];
        for (const [r, local] of [await both(['token', 'list', 'nobody']), await both(['token', 'create', 'nobody'])]) {
            assert.equal(fails(r, 3), "kvs: no user named 'nobody' (HTTP 404)");
            assert.equal(fails(local, 3), "kvs: no user named 'nobody'");
        }
        const [r, local] = await both(['token', 'revoke', 'kvs_nosuchtok']);
        assert.equal(fails(r, 3), "kvs: no token matches 'kvs_nosuchtok' (HTTP 404)");
        assert.equal(fails(local, 3), "kvs: no token matches 'kvs_nosuchtok'");
        const store = uniqueName('shr');
        ok(await kvs(server, ['create', store]));
        const [s, sLocal] = await both(['share', `admin~${store}`, 'nobody', '--read']);
        assert.equal(fails(s, 3), "kvs: no user named 'nobody' (HTTP 404)");
        assert.equal(fails(sLocal, 3), "kvs: no user named 'nobody'");
        const [u, uLocal] = await both(['user', 'add', 'admin']);
        assert.equal(fails(u, 1), "kvs: a user named 'admin' already exists (HTTP 400)");
        assert.equal(fails(uLocal, 1), "kvs: a user named 'admin' already exists");
    });

    test('a refused token says how to give one', T, async () => {
        const line = fails(await kvs(server, ['ls'], { env: { KVS_TOKEN: 'kvs_wrong' } }), 1);
        assert.match(line, /\(HTTP 401\) — give a valid API token with --token TOKEN or \$KVS_TOKEN$/);
        fails(await kvs(server, ['ls'], { env: { KVS_TOKEN: undefined } }), 1, /HTTP 401.*--token/);
    });

    test('a value larger than the server takes: its size, the limit and the option that sets it, before the body is sent', T, async () => {
        const small = await startServer({ args: ['--max-record-size', '64K'] });
        try {
            const env = { KVS_URL: small.url, KVS_TOKEN: small.token };
            ok(await kvs(null, ['create', 'lim'], { env }));
            const file = path.join(tmp, 'big.bin');
            await fs.writeFile(file, randomBytes(100 * 1024));
            const want = `kvs: lim big: ${file} (100.0 KiB) is larger than the server takes (at most 64.0 KiB per record) (HTTP 413) — the server's administrator sets the limit with kvs serve --max-record-size`;
            assert.equal(fails(await kvs(null, ['set', 'lim', 'big', file], { env }), 1), want);
            // stdin: the size is not known beforehand
            const line = fails(await kvs(null, ['set', 'lim', 'big'], { env, input: randomBytes(100 * 1024) }), 1);
            assert.match(line, /^kvs: lim big: the value is larger than the server takes \(at most 64\.0 KiB per record\) \(HTTP 413\) — .*--max-record-size$/);
            fails(await kvs(null, ['set-value', 'lim', 'big', 'x'.repeat(70 * 1024)], { env }), 1, /the value \(70\.0 KiB\) is larger than the server takes \(at most 64\.0 KiB/);
        } finally {
            await small.stop();
        }
    });
});

describe('a server that does not answer', { skip: NEEDS_SPAWN }, () => {
    test('on a terminal each retry is told with the reason; the last line names the URL and asks whether kvs serve runs there', T, async () => {
        const url = `http://127.0.0.1:${await freePort()}`;
        const r = await onTerminal(`${shq(KVS_BIN)} ls --retries 2`, { env: { KVS_URL: url, KVS_TOKEN: 't' } });
        assert.equal(r.code, 1, r.text);
        const lines = r.text.trim().split(/\r?\n/);
        assert.equal(lines.length, 3, r.text);
        assert.match(lines[0], new RegExp(`^kvs: cannot reach the server at ${url}: .*; trying again in 0\\.5 s \\(1 of 2\\)$`));
        assert.match(lines[1], /; trying again in 1\.0 s \(2 of 2\)$/);
        assert.match(lines[2], new RegExp(`^kvs: list stores: cannot reach the server at ${url}: .* — is kvs serve running there\\? \\(--url or \\$KVS_URL says where\\)$`));
        // not on a terminal: only the last line
        const quiet = await kvs(null, ['ls', '--retries', '1'], { env: { KVS_URL: url, KVS_TOKEN: 't' } });
        fails(quiet, 1, new RegExp(`^kvs: list stores: cannot reach the server at ${url}: `));
    });
});

describe('kvs get on a terminal', { skip: NEEDS_SPAWN }, () => {
    let server, tmp;
    const ctx = serverFixture('kvs-tty-');
    before(() => ({ server, tmp } = ctx));

    test('binary values are refused with what to do instead; text is shown; -o and pipes get every byte', T, async () => {
        const store = uniqueName('bin');
        const env = { KVS_URL: server.url, KVS_TOKEN: server.token };
        const png = randomBytes(3000);
        png[0] = 0x89;
        ok(await kvs(server, ['create', store]));
        ok(await kvs(server, ['set', store, 'img', '-', '--content-type', 'image/png'], { input: png }));
        ok(await kvs(server, ['set', store, 'nul', '-', '--content-type', 'text/plain'], { input: Buffer.from('a\0b') }));
        ok(await kvs(server, ['set-value', store, 'conf', '{"debug": true}']));
        ok(await kvs(server, ['set', store, 'txt', '-', '--content-type', 'text/plain; charset=utf-8'], { input: 'Hello, wörld\n' }));

        const k = shq(KVS_BIN);
        const img = await onTerminal(`${k} get ${store} img`, { env });
        assert.equal(img.code, 2, img.text);
        assert.equal(img.text.trim(), `kvs: ${store} img is binary (image/png, 2.9 KiB): not written to the terminal; write it to a file with -o FILE or redirect it (kvs get ${store} img > FILE, or | to a program)`);
        const nul = await onTerminal(`${k} get ${store} nul`, { env });
        assert.equal(nul.code, 2, nul.text);
        assert.match(nul.text, /nul is binary \(text\/plain, 3 B\)/);
        const conf = await onTerminal(`${k} get ${store} conf`, { env });
        assert.equal(conf.code, 0, conf.text);
        assert.equal(conf.text, '{"debug": true}');
        const txt = await onTerminal(`${k} get-value ${store} txt`, { env });
        assert.equal(txt.code, 0, txt.text);
        assert.equal(txt.text.replace(/\r\n/g, '\n'), 'Hello, wörld\n');

        // to a file, or through a pipe, the bytes go out as they are, terminal or not
        const out = path.join(tmp, 'img.bin');
        assert.equal((await onTerminal(`${k} get ${store} img -o ${shq(out)}`, { env })).code, 0);
        assert.deepEqual(await fs.readFile(out), png);
        const piped = await onTerminal(`${k} get ${store} img | wc -c`, { env });
        assert.equal(piped.text.trim(), '3000');
        assert.deepEqual(ok(await kvs(server, ['get', store, 'img'])).stdout, png);
    });
});

describe('a bare name for a store shared with you', { skip: NEEDS_SPAWN }, () => {
    let server;
    const ctx = serverFixture('kvs-shared-');
    before(() => ({ server } = ctx));

    test('a name ls shows works in get, keys, info and set when one store of that name is shared; two ask which; your own wins', T, async () => {
        const bob = await createUser(server, 'bob');
        const carol = await createUser(server, 'carol');
        const me = await createUser(server, 'me');
        const name = uniqueName('team');
        const as = (u) => ({ env: { KVS_URL: server.url, KVS_TOKEN: u.token } });
        ok(await kvs(null, ['create', name], as(bob)));
        ok(await kvs(null, ['set-value', name, 'k', '"from bob"'], as(bob)));
        await share(server, bob.token, `${bob.username}~${name}`, me.username, 'WRITE');

        const listed = ok(await kvs(null, ['ls'], as(me))).out;
        assert.match(listed, new RegExp(`\\t${name}\\t${bob.username}\\t`), 'ls shows it by its bare name');
        assert.equal(ok(await kvs(null, ['get', name, 'k'], as(me))).out, '"from bob"');
        assert.match(ok(await kvs(null, ['keys', name], as(me))).out, /^k\t10\n$/);
        assert.equal(JSON.parse(ok(await kvs(null, ['info', name, '--json'], as(me))).out).username, bob.username);
        ok(await kvs(null, ['set-value', name, 'k2', '1'], as(me)));
        assert.equal(ok(await kvs(null, ['get', `${bob.username}~${name}`, 'k2'], as(bob))).out, '1');
        fails(await kvs(null, ['get', name, 'nope'], as(me)), 3, new RegExp(`^kvs: no record 'nope' in store '${bob.username}~${name}'`));

        // a second store of that name shared with me: say which
        ok(await kvs(null, ['create', name], as(carol)));
        await share(server, carol.token, `${carol.username}~${name}`, me.username, 'READ');
        const line = fails(await kvs(null, ['get', name, 'k'], as(me)), 2);
        assert.match(line, new RegExp(`no store '${name}' of yours, and several stores of that name are shared with you: give one of (${bob.username}|${carol.username})~${name}, (${bob.username}|${carol.username})~${name}`));
        // my own store of that name is what the bare name means
        ok(await kvs(null, ['create', name], as(me)));
        ok(await kvs(null, ['set-value', name, 'k', '"mine"'], as(me)));
        assert.equal(ok(await kvs(null, ['get', name, 'k'], as(me))).out, '"mine"');
    });
});
