// The `kvs` data commands (src/cli/cmd_*.c on libkvs) against a real server: stores, records,
// keys, signed links, Apify's spellings, output for people and for scripts, exit codes; and,
// against a fake server, libkvs's retries and kept-alive connection.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { KVS_BIN, NEEDS_SPAWN, allBytes, mapLimit, ms, request, uniqueName } from '../lib/server.mjs';
import { createUser, share } from '../lib/users.mjs';
import { REPO, fakeServer, kvs, onTerminal, run, sendJson, serverFixture, shq, show } from './lib.mjs';

const T = { timeout: ms(120_000) };
const sha = (b) => createHash('sha256').update(b).digest('hex');

function ok(r, what = '') {
    assert.equal(r.code, 0, `${what}\n${show(r)}`);
    return r;
}

/** Asserts a failure: exit CODE and one line on stderr matching RE. */
function fails(r, code, re) {
    assert.equal(r.code, code, show(r));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line on stderr:\n${r.stderr}`);
    if (re) assert.match(r.stderr.trim(), re);
    assert.equal(r.out, '', 'nothing on stdout');
}

describe('kvs data commands', { skip: NEEDS_SPAWN }, () => {
    let server, client, tmp;
    const ctx = serverFixture('kvs-cli-');
    before(() => ({ server, client, tmp } = ctx));

    test('create, ls, info, rename, rm: lines for scripts, --json, exit 3 for what does not exist', T, async () => {
        const name = uniqueName('cli');
        const created = ok(await kvs(server, ['create', name]));
        const id = created.out.match(/^created store (\S+) \(id ([A-Za-z0-9]{17})\)\n$/)?.[2];
        assert.ok(id, created.out);
        assert.match(ok(await kvs(server, ['create', name])).out, new RegExp(`^kept the existing store ${name} \\(id ${id}\\)`));
        const unnamed = JSON.parse(ok(await kvs(server, ['create', '--json'])).out);
        assert.equal(unnamed.name, null);

        // not a terminal: one tab-separated line per store, no header
        const ls = ok(await kvs(server, ['ls'])).out;
        const line = ls.split('\n').find((l) => l.startsWith(`${id}\t`));
        assert.deepEqual(line?.split('\t').slice(0, 5), [id, name, 'admin', '0', '0 B'], ls);
        assert.ok(!ls.includes(unnamed.id), 'unnamed stores only with --unnamed');
        assert.ok(ok(await kvs(server, ['ls', '--unnamed'])).out.includes(`${unnamed.id}\t(unnamed)`));
        const all = JSON.parse(ok(await kvs(server, ['ls', '--json', '--unnamed'])).out);
        assert.ok(Array.isArray(all) && all.some((s) => s.id === id && s.name === name && s.stats) && all.some((s) => s.id === unnamed.id));
        assert.equal(ok(await kvs(server, ['ls', '--limit', '1', '--unnamed'])).out.trim().split('\n').length, 1);
        const desc = JSON.parse(ok(await kvs(server, ['ls', '--json', '--unnamed', '--desc'])).out);
        assert.deepEqual(desc.map((s) => s.id), all.map((s) => s.id).reverse());

        const info = ok(await kvs(server, ['info', name])).out;
        assert.match(info, new RegExp(`^ID: +${id}$`, 'm'));
        assert.match(info, new RegExp(`^Name: +${name}$`, 'm'));
        assert.match(info, /^Records: +0$/m);
        assert.match(info, /^Operations: +\d+ reads, \d+ writes, \d+ deletes, \d+ lists$/m);
        const asJson = JSON.parse(ok(await kvs(server, ['info', `admin~${name}`, '--json'])).out);
        assert.equal(asJson.id, id);
        assert.equal(typeof asJson.urlSigningSecretKey, 'string');
        fails(await kvs(server, ['info', 'no-such-store']), 3, /^kvs: no store 'no-such-store' \(HTTP 404\)/);

        const renamed = uniqueName('cli2');
        assert.match(ok(await kvs(server, ['rename', name, renamed])).out, new RegExp(`renamed the store to ${renamed} \\(id ${id}\\)`));
        assert.equal((await client.keyValueStore(id).get()).name, renamed);
        ok(await kvs(server, ['rename', renamed, '--unname']));
        assert.equal((await client.keyValueStore(id).get()).name, null, 'unnamed');
        fails(await kvs(server, ['rename', id]), 2, /--unname/);
        assert.match(ok(await kvs(server, ['rm', id])).out, new RegExp(`deleted store ${id}`));
        fails(await kvs(server, ['info', id]), 3);
        fails(await kvs(server, ['rm', id]), 3);
    });

    test('set and get: exact bytes, content types guessed or given, stdin, -o FILE, nothing but the value on stdout', T, async () => {
        const store = uniqueName('rec');
        ok(await kvs(server, ['create', store]));
        const files = {
            'blob.bin': [allBytes(40), 'application/octet-stream'],
            'photo.png': [randomBytes(300), 'image/png'],
            'note.txt': [Buffer.from('hello, wörld\n'), 'text/plain; charset=utf-8'],
            'data.json': [Buffer.from('{"a": [1, 2]}'), 'application/json; charset=utf-8'],
            'strange.xyz': [Buffer.from('?'), 'application/octet-stream'],
            'noext': [Buffer.from(''), 'application/octet-stream'],
        };
        for (const [file, [bytes, type]] of Object.entries(files)) {
            const p = path.join(tmp, file);
            await fs.writeFile(p, bytes);
            const key = `k-${file}`;
            assert.equal(ok(await kvs(server, ['set', store, key, p])).out, `stored ${key} in ${store} (${type})\n`);
            const rec = await client.keyValueStore(`admin~${store}`).getRecord(key, { buffer: true });
            assert.deepEqual(Buffer.from(rec.value), bytes, file);
            assert.equal(rec.contentType, type, file);
            const got = ok(await kvs(server, ['get', store, key]));
            assert.deepEqual(got.stdout, bytes, `${file}: stdout is the value, byte for byte`);
            assert.equal(got.stderr, '');
        }
        // a type given wins over the name's
        ok(await kvs(server, ['set', store, 'typed', path.join(tmp, 'note.txt'), '--content-type', 'text/x-custom; a=b']));
        assert.equal((await client.keyValueStore(`admin~${store}`).getRecord('typed')).contentType, 'text/x-custom; a=b');

        // stdin, with - or without a file argument
        const piped = randomBytes(70_000);
        ok(await kvs(server, ['set', store, 'piped', '-'], { input: piped }));
        ok(await kvs(server, ['set', store, 'piped2'], { input: piped }));
        for (const key of ['piped', 'piped2']) {
            const rec = await client.keyValueStore(`admin~${store}`).getRecord(key, { buffer: true });
            assert.deepEqual(Buffer.from(rec.value), piped);
            assert.equal(rec.contentType, 'application/octet-stream');
        }

        // a key with the awkward characters of the key rule
        const odd = "a.b(c)!-_'x.json";
        ok(await kvs(server, ['set', store, odd, path.join(tmp, 'data.json')]));
        assert.deepEqual(ok(await kvs(server, ['get', `admin~${store}`, odd])).stdout, files['data.json'][0]);

        // several MiB, streamed both ways
        const big = randomBytes(6 * 1024 * 1024 + 123);
        const bigFile = path.join(tmp, 'big.bin');
        await fs.writeFile(bigFile, big);
        ok(await kvs(server, ['set', store, 'big', bigFile]));
        assert.equal(sha(ok(await kvs(server, ['get', store, 'big'])).stdout), sha(big));
        const out = path.join(tmp, 'out.bin');
        ok(await kvs(server, ['get', store, 'big', '-o', out]));
        assert.equal(sha(await fs.readFile(out)), sha(big));
        assert.equal(ok(await kvs(server, ['get', store, 'big', '-o', out])).out, '', '-o: nothing on stdout');

        // a failed get leaves -o's file as it was, and no temporary file behind
        await fs.writeFile(out, 'old');
        fails(await kvs(server, ['get', store, 'no-such-key', '-o', out]), 3, /HTTP 404/);
        assert.equal(await fs.readFile(out, 'utf8'), 'old');
        assert.deepEqual((await fs.readdir(tmp)).filter((f) => f.startsWith('.kvs-get')), []);
        fails(await kvs(server, ['get', store, 'big', '-o', path.join(tmp, 'no', 'dir', 'x')]), 1, /cannot write/);
        fails(await kvs(server, ['set', store, 'k', path.join(tmp, 'missing')]), 1, /cannot open/);
        fails(await kvs(server, ['set', store, 'k', tmp]), 1, /is a directory/);
        fails(await kvs(server, ['set', store, 'bad/key', bigFile]), 1, /HTTP 400/);
    });

    test("Apify's spellings: set-value, get-value, get-record, delete-value", T, async () => {
        const store = uniqueName('apify');
        ok(await kvs(server, ['create', store]));
        assert.equal(ok(await kvs(server, ['set-value', store, 'OUTPUT', '{"status":"done"}'])).out, `stored OUTPUT in ${store} (application/json)\n`);
        const rec = await client.keyValueStore(`admin~${store}`).getRecord('OUTPUT');
        assert.deepEqual(rec.value, { status: 'done' });
        assert.equal(rec.contentType, 'application/json');
        ok(await kvs(server, ['set-value', store, 'REPORT', '--content-type', 'text/plain'], { input: 'from stdin' }));
        assert.equal(ok(await kvs(server, ['get-value', store, 'REPORT'])).out, 'from stdin');
        assert.equal(ok(await kvs(server, ['get-record', '--store-name', store, '--key', 'OUTPUT'])).out, '{"status":"done"}');
        fails(await kvs(server, ['get-record', '--store-name', store]), 2, /--store-name and --key/);
        ok(await kvs(server, ['delete-value', store, 'OUTPUT']));
        assert.equal(await client.keyValueStore(`admin~${store}`).getRecord('OUTPUT'), undefined);
    });

    test('keys over many pages, --prefix, --json; exists; del', T, async () => {
        const store = uniqueName('keys');
        ok(await kvs(server, ['create', store]));
        const kv = client.keyValueStore(`admin~${store}`);
        const keys = Array.from({ length: 1203 }, (_, i) => `key-${String(i).padStart(5, '0')}`);
        await mapLimit(keys, 16, (key, i) => kv.setRecord({ key, value: 'x'.repeat(i % 7), contentType: 'text/plain' }));
        const lines = ok(await kvs(server, ['keys', store])).out.trim().split('\n');
        assert.equal(lines.length, keys.length, 'three pages of 1000, walked by the iterator');
        assert.deepEqual(lines.map((l) => l.split('\t')[0]), keys);
        assert.equal(lines[8], 'key-00008\t1');
        const pref = ok(await kvs(server, ['keys', store, '--prefix', 'key-011'])).out.trim().split('\n');
        assert.equal(pref.length, 100);
        const asJson = JSON.parse(ok(await kvs(server, ['keys', store, '--prefix', 'key-0120', '--json'])).out);
        assert.deepEqual(asJson.map((k) => k.key), ['key-01200', 'key-01201', 'key-01202']);
        assert.equal(asJson[0].size, 1200 % 7);
        assert.match(asJson[0].recordPublicUrl, /\/records\/key-01200\?signature=/);
        assert.equal(ok(await kvs(server, ['keys', store, '--prefix', 'nothing'])).out, '');

        assert.equal(ok(await kvs(server, ['exists', store, 'key-00003'])).out, 'key-00003: 3 B, text/plain\n');
        fails(await kvs(server, ['exists', store, 'nope']), 3);
        const no = await kvs(server, ['exists', store, 'nope', '--json']);
        assert.equal(no.code, 3);
        assert.deepEqual(JSON.parse(no.out), { exists: false });
        assert.deepEqual(JSON.parse(ok(await kvs(server, ['exists', store, 'key-00006', '--json'])).out), { exists: true, size: 6, contentType: 'text/plain' });
        ok(await kvs(server, ['del', store, 'key-00006']));
        fails(await kvs(server, ['exists', store, 'key-00006']), 3);
        ok(await kvs(server, ['del', store, 'key-00006']), 'deleting what is gone is fine (204)');
        fails(await kvs(server, ['keys', 'no-such-store']), 3, /HTTP 404/);
    });

    test('url: signed links that work without a token; --expires for the key list', T, async () => {
        const store = uniqueName('url');
        ok(await kvs(server, ['create', store]));
        ok(await kvs(server, ['set-value', store, "r(1)", '[1]']));
        const recUrl = ok(await kvs(server, ['url', store, 'r(1)'])).out.trim();
        assert.match(recUrl, new RegExp(`^${server.url}/v2/key-value-stores/[A-Za-z0-9]{17}/records/r%281%29\\?signature=\\w+$`));
        const u = new URL(recUrl);
        const anon = await request(server.url, { path: u.pathname + u.search });
        assert.equal(anon.status, 200, anon.text);
        assert.equal(anon.text, '[1]');
        assert.equal((await request(server.url, { path: `${u.pathname}?signature=${u.searchParams.get('signature')}x` })).status, 403);

        for (const args of [[], ['--expires', '1h'], ['--expires', '0']]) {
            const keysUrl = new URL(ok(await kvs(server, ['url', store, ...args])).out.trim());
            const res = await request(server.url, { path: keysUrl.pathname + keysUrl.search });
            assert.equal(res.status, 200, `${args}: ${res.text}`);
            assert.deepEqual(res.json().data.items.map((i) => i.key), ['r(1)']);
        }
        fails(await kvs(server, ['url', store, 'r(1)', '--expires', '1h']), 2, /does not expire/);
        fails(await kvs(server, ['url', store, '--expires', 'soon']), 2, /duration/);

        // a reader cannot sign: the store object carries no key for them
        const reader = await createUser(server, 'reader');
        const s = await client.keyValueStore(`admin~${store}`).get();
        await share(server, server.token, s.id, reader.username, 'READ');
        fails(await kvs(server, ['url', s.id, 'r(1)'], { env: { KVS_TOKEN: reader.token } }), 1, /may write/);
        assert.equal(ok(await kvs(server, ['get', s.id, 'r(1)'], { env: { KVS_TOKEN: reader.token } })).out, '[1]');
    });

    test('usage errors exit 2, refusals 1, and --help says which is which', T, async () => {
        const noEnv = { env: { KVS_URL: undefined, KVS_TOKEN: undefined } };
        fails(await kvs(null, ['ls'], noEnv), 2, /--url/);
        fails(await kvs(null, ['ls', '--url', 'ftp://x'], noEnv), 2, /not an http/);
        for (const args of [['ls', '--bogus'], ['get', 's'], ['get', 's', 'k', 'x'], ['get', 's', 'k', '--prefix', 'p'], ['ls', '--limit', 'x'], ['set', 's', 'k', '--content-type', ''], ['export', 's', 'd', '--layout', 'xml'], ['ls', '--retries', '101']]) {
            const r = await kvs(server, args);
            fails(r, 2);
            assert.match(r.stderr.trim(), /^kvs: .*\(see kvs \S+ --help\)$/, args.join(' '));
        }
        fails(await kvs(server, ['ls'], { env: { KVS_TOKEN: 'wrong' } }), 1, /HTTP 401/);
        // the administration commands say 3 for what does not exist too, both ways
        fails(await kvs(server, ['token', 'list', 'nobody']), 3, /HTTP 404/);
        fails(await kvs(server, ['token', 'list', 'nobody', '--data', server.dataDir], { env: { KVS_URL: undefined } }), 3, /no user named 'nobody'/);
        fails(await kvs(server, ['ls', '--url', 'http://127.0.0.1:1', '--retries', '0']), 1, /127\.0\.0\.1:1/);
        const help = ok(await kvs(null, ['help'])).out;
        assert.match(help, /Exit status: 0 done, 1 error, 2 usage error, 3 not found/);
        for (const cmd of ['ls', 'create', 'info', 'rename', 'rm', 'keys', 'get', 'set', 'del', 'exists', 'url', 'export', 'get-value', 'set-value', 'delete-value', 'get-record', 'user add', 'import']) assert.ok(help.includes(`kvs ${cmd}`), cmd);
        const getHelp = ok(await kvs(null, ['get', '--help'])).out;
        assert.match(getHelp, /^usage: kvs get STORE KEY \[-o FILE\]/);
        assert.match(getHelp, /3 not found/);
        fails(await kvs(null, ['frobnicate']), 2, /unknown command/);
    });

    test('on a terminal: tables with a header, and a progress bar for transfers of several MiB', T, async () => {
        const store = uniqueName('tty');
        ok(await kvs(server, ['create', store]));
        const big = path.join(tmp, 'tty-big.bin');
        await fs.writeFile(big, randomBytes(9 * 1024 * 1024));
        const env = { KVS_URL: server.url, KVS_TOKEN: server.token };
        const k = shq(KVS_BIN);
        const set = await onTerminal(`${k} set ${store} big ${shq(big)}`, { env });
        assert.equal(set.code, 0, set.text);
        assert.match(set.text, /set {2}\d+\.\d MiB \/ 9\.0 MiB +\d+% {2}[\d.]+ \S+\/s {2}\d+:\d\d left/, 'a bar with bytes, rate and time left');
        const out = path.join(tmp, 'tty-out.bin');
        const get = await onTerminal(`${k} get ${store} big -o ${shq(out)}`, { env });
        assert.equal(get.code, 0, get.text);
        assert.match(get.text, /get {2}[\d.]+ MiB \/ 9\.0 MiB/);
        assert.equal((await fs.stat(out)).size, 9 * 1024 * 1024);
        // not on a terminal: silent
        const quiet = ok(await kvs(server, ['get', store, 'big', '-o', out]));
        assert.equal(quiet.stderr, '');
        // small transfers: no bar even on a terminal
        const small = await onTerminal(`printf hi | ${k} set ${store} small`, { env });
        assert.doesNotMatch(small.text, /\/s/);
        // tables for people
        const keys = await onTerminal(`${k} keys ${store}`, { env });
        assert.match(keys.text, /^KEY +SIZE\r?\nbig +9\.0 MiB\r?\nsmall +2 B\r?\n$/);
        const ls = await onTerminal(`${k} ls`, { env });
        assert.match(ls.text, /^ID +NAME +OWNER +RECORDS +SIZE +MODIFIED\r?\n/);
        assert.match(ls.text, new RegExp(`${store} +admin +2 +9\\.0 MiB`));
    });

    test('bash completion: the script parses, and completes commands, options and values', T, async () => {
        const file = path.join(REPO, 'tools', 'kvs-completion.bash');
        ok(await run('bash', ['-n', file]), 'bash -n');
        const complete = async (...words) => {
            const line = `source ${shq(file)}; COMP_WORDS=(${words.map(shq).join(' ')}); COMP_CWORD=${words.length - 1}; _kvs; printf '%s\\n' "\${COMPREPLY[@]}"`;
            const r = ok(await run('bash', ['-c', line], { env: { PATH: `${path.dirname(KVS_BIN)}:${process.env.PATH}` } }));
            return r.out.trim().split('\n').filter(Boolean).sort();
        };
        assert.deepEqual(await complete('kvs', 'ge'), ['get', 'get-record', 'get-value']);
        assert.deepEqual(await complete('kvs', 'keys', 's', '--'), ['--help', '--json', '--prefix', '--retries', '--token', '--url']);
        assert.deepEqual(await complete('kvs', 'export', 's', 'd', '--layout', ''), ['js', 'python', 'sidecar']);
        assert.deepEqual(await complete('kvs', 'user', ''), ['--admin', '--data', '--default-general-access', '--help', '--token', '--url', 'add', 'delete', 'list']);
        // a file argument completes file names
        const files = await complete('kvs', 'set', 's', 'k', path.join(path.dirname(KVS_BIN), 'kv'));
        assert.ok(files.includes(KVS_BIN), files.join(' '));
    });
});

describe('libkvs retries and connections (a fake server)', () => {
    const store = { id: 'AAAAAAAAAAAAAAAAA', name: 'fake', userId: 'BBBBBBBBBBBBBBBBB', username: 'u', createdAt: '2026-01-01T00:00:00.000Z', modifiedAt: '2026-01-01T00:00:00.000Z', accessedAt: '2026-01-01T00:00:00.000Z', stats: {} };

    test('429 and 5xx are retried with growing waits, 4xx are not, --retries 0 tries once', T, async () => {
        let fail = 0;
        let status = 503;
        const fake = await fakeServer((req, body, res) => {
            if (fail > 0) {
                fail--;
                sendJson(res, status, { error: { type: status === 429 ? 'rate-limit-exceeded' : 'service-unavailable', message: 'busy' } }, status === 429 ? { 'Retry-After': '1' } : {});
            } else {
                sendJson(res, 200, { data: store });
            }
        });
        try {
            const env = { KVS_URL: fake.url, KVS_TOKEN: 't' };
            fail = 2;
            assert.equal(JSON.parse(ok(await kvs(null, ['info', 'fake', '--json'], { env })).out).id, store.id);
            assert.equal(fake.log.length, 3, 'two 503s, then the answer');
            assert.equal(fake.log[0].headers.authorization, 'Bearer t');

            fake.log.length = 0;
            status = 429;
            fail = 1;
            ok(await kvs(null, ['info', 'fake'], { env }));
            assert.equal(fake.log.length, 2, 'a 429 (Retry-After: 1), then the answer');

            fake.log.length = 0;
            status = 500;
            fail = 10;
            fails(await kvs(null, ['info', 'fake', '--retries', '2'], { env }), 1, /busy \(HTTP 500\)/);
            assert.equal(fake.log.length, 3, 'the first try and two retries');

            fake.log.length = 0;
            fail = 10;
            fails(await kvs(null, ['info', 'fake', '--retries', '0'], { env }), 1);
            assert.equal(fake.log.length, 1);

            fake.log.length = 0;
            status = 403;
            fail = 1;
            fails(await kvs(null, ['info', 'fake'], { env }), 1, /HTTP 403/);
            assert.equal(fake.log.length, 1, 'a 4xx is the answer');
        } finally {
            await fake.close();
        }
    });

    test('one kept-alive connection for the pages of a key listing; a garbled answer is reported', T, async () => {
        const sockets = new Set();
        const all = Array.from({ length: 2500 }, (_, i) => `k${String(i).padStart(4, '0')}`);
        const fake = await fakeServer((req, body, res) => {
            sockets.add(req.socket);
            const u = new URL(req.url, 'http://x');
            if (u.pathname.endsWith('/garbled/keys')) {
                res.writeHead(200, { 'Content-Type': 'application/json' });
                res.end('{"data": ');
                return;
            }
            const start = u.searchParams.get('exclusiveStartKey');
            const from = start ? all.indexOf(start) + 1 : 0;
            const items = all.slice(from, from + 1000).map((key) => ({ key, size: 1, recordPublicUrl: `http://x/${key}` }));
            const more = from + 1000 < all.length;
            sendJson(res, 200, { data: { items, count: items.length, limit: 1000, exclusiveStartKey: start, isTruncated: more, nextExclusiveStartKey: more ? items.at(-1).key : null } });
        });
        try {
            const env = { KVS_URL: fake.url };
            const lines = ok(await kvs(null, ['keys', 'fake'], { env })).out.trim().split('\n');
            assert.equal(lines.length, all.length);
            assert.equal(fake.log.length, 3, 'three pages');
            assert.equal(fake.log[0].headers.authorization, undefined, 'no token, no header');
            assert.equal(sockets.size, 1, 'one connection for all three');
            fails(await kvs(null, ['keys', 'garbled', '--retries', '0'], { env }), 1, /not the API's JSON/);
        } finally {
            await fake.close();
        }
    });
});
