// Validators and conditional requests (RFC 9110 §8.8, §13): ETag and Last-Modified on record
// GET, HEAD and the 201 of a PUT; If-None-Match / If-Modified-Since → 304 and their precedence,
// weak comparison and lists; If-Match / If-Unmodified-Since → 412; conditional PUT, POST and
// DELETE (optimistic concurrency), down to 32 clients incrementing one counter with If-Match,
// through node and through curl; If-Range; Cache-Control for public and private records.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import zlib from 'node:zlib';

import { rawExchange, rawHeader } from '../lib/raw.mjs';
import {
    NEEDS_SPAWN,
    assertApiError,
    createStore,
    makeClient,
    ms,
    recordPath,
    request,
    startServer,
    storePath,
} from '../lib/server.mjs';

const T = { timeout: ms(60_000) };
const ETAG = /^"[0-9a-f]{1,16}"$/;
const DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

let server;
let client;
let store;

before(async () => {
    server = await startServer();
    client = makeClient(server);
    ({ store } = await createStore(client, 'validators'));
});

after(async () => {
    await server?.stop();
});

function put(key, body, headers = {}, method = 'PUT', ref = store.id) {
    return request(server, { method, path: recordPath(ref, key), body, headers: { 'Content-Type': 'text/plain', ...headers } });
}

function get(key, headers = {}, { method = 'GET', ref = store.id, token } = {}) {
    return request(server, { method, path: recordPath(ref, key), headers: { 'Accept-Encoding': 'identity', ...headers }, token });
}

function del(key, headers = {}) {
    return request(server, { method: 'DELETE', path: recordPath(store.id, key), headers });
}

/** PUT and return its ETag (asserting the 201). */
async function putTag(key, body, headers = {}) {
    const res = await put(key, body, headers);
    assert.equal(res.status, 201, res.text);
    assert.match(res.headers.etag, ETAG);
    return res.headers.etag;
}

/** The HTTP-date of a time in seconds. */
function httpDate(secs) {
    return new Date(secs * 1000).toUTCString();
}

describe('ETag and Last-Modified', () => {
    test('the 201 of a PUT, GET and HEAD carry the same strong ETag and Last-Modified', T, async () => {
        const t0 = Math.floor(Date.now() / 1000);
        const created = await put('e1', 'hello');
        assert.equal(created.status, 201);
        assert.match(created.headers.etag, ETAG);
        assert.match(created.headers['last-modified'], DATE);
        const lm = Date.parse(created.headers['last-modified']) / 1000;
        assert.ok(lm >= t0 - 1 && lm <= Date.now() / 1000 + 1, `Last-Modified ${created.headers['last-modified']} is now`);
        for (const method of ['GET', 'HEAD']) {
            const res = await get('e1', {}, { method });
            assert.equal(res.status, 200);
            assert.equal(res.headers.etag, created.headers.etag, method);
            assert.equal(res.headers['last-modified'], created.headers['last-modified'], method);
        }
    });

    test('every write changes the ETag, the same bytes again too, and a re-created record never gets an old one', T, async () => {
        const seen = new Set();
        for (const body of ['a', 'a', 'b', 'a']) {
            const tag = await putTag('e2', body);
            assert.ok(!seen.has(tag), `${tag} is new`);
            seen.add(tag);
        }
        assert.equal((await del('e2')).status, 204);
        const again = await putTag('e2', 'a');
        assert.ok(!seen.has(again), 'a new tag after delete and re-create');
        assert.equal((await get('e2')).headers.etag, again);
    });

    test('a record stored compressed: one tag for the stored bytes, another for them decoded', T, async () => {
        const text = 'compress me '.repeat(300);
        const tag = await putTag('gz', zlib.gzipSync(Buffer.from(text)), { 'Content-Encoding': 'gzip' });
        const coded = await get('gz', { 'Accept-Encoding': 'gzip' });
        assert.equal(coded.headers['content-encoding'], 'gzip');
        assert.equal(coded.headers.etag, tag);
        assert.equal(coded.headers.vary, 'Accept-Encoding');
        const plain = await get('gz');
        assert.equal(plain.text, text);
        assert.equal(plain.headers.etag, `${tag.slice(0, -1)}-identity"`);
        // a cache holding one form does not get a 304 for the other
        assert.equal((await get('gz', { 'If-None-Match': tag })).status, 200);
        assert.equal((await get('gz', { 'If-None-Match': plain.headers.etag })).status, 304);
        assert.equal((await get('gz', { 'Accept-Encoding': 'gzip', 'If-None-Match': plain.headers.etag })).status, 200);
    });

    test('the official client reads and writes records as before', T, async () => {
        const kvs = client.keyValueStore(store.id);
        await kvs.setRecord({ key: 'client', value: { n: 1 } });
        assert.deepEqual((await kvs.getRecord('client')).value, { n: 1 });
        assert.equal(await kvs.recordExists('client'), true);
    });

    test('a browser page may read ETag and Last-Modified (CORS)', T, async () => {
        const res = await get('e1', { Origin: 'https://example.com' });
        const exposed = res.headers['access-control-expose-headers'].split(/,\s*/);
        for (const h of ['ETag', 'Last-Modified', 'Content-Range', 'Accept-Ranges']) assert.ok(exposed.includes(h), h);
    });
});

describe('If-None-Match and If-Modified-Since on GET and HEAD → 304', () => {
    let tag;
    let lastModified;
    before(async () => {
        const res = await put('n', 'not modified');
        tag = res.headers.etag;
        lastModified = res.headers['last-modified'];
    });

    test('the current tag → 304 without a body, with the validators and the 200\'s Content-Length', T, async () => {
        const res = await get('n', { 'If-None-Match': tag });
        assert.equal(res.status, 304);
        assert.equal(res.body.length, 0);
        assert.equal(res.headers.etag, tag);
        assert.equal(res.headers['last-modified'], lastModified);
        assert.equal(res.headers['cache-control'], 'private, no-cache');
        const raw = await rawExchange(server, `GET ${recordPath(store.id, 'n')} HTTP/1.1\r\nHost: x\r\n` +
            `Authorization: Bearer ${server.token}\r\nIf-None-Match: ${tag}\r\nConnection: close\r\n\r\n`, { timeoutMs: ms(5000) });
        assert.equal(raw.status, 304);
        assert.equal(rawHeader(raw.text, 'Content-Length'), String('not modified'.length), 'what a 200 would send');
        assert.equal(raw.text.slice(raw.text.indexOf('\r\n\r\n') + 4), '', 'no body');
        const head = await get('n', { 'If-None-Match': tag }, { method: 'HEAD' });
        assert.equal(head.status, 304);
    });

    test('weak comparison: W/ is ignored; lists, several lines and * match', T, async () => {
        for (const inm of [`W/${tag}`, `"abc", ${tag}`, ` , ${tag} ,`, '*']) {
            const res = await get('n', { 'If-None-Match': inm });
            assert.equal(res.status, 304, `If-None-Match: ${inm}`);
        }
        const raw = await rawExchange(server, `GET ${recordPath(store.id, 'n')} HTTP/1.1\r\nHost: x\r\n` +
            `Authorization: Bearer ${server.token}\r\nIf-None-Match: "abc"\r\nIf-None-Match: ${tag}\r\nConnection: close\r\n\r\n`, { timeoutMs: ms(5000) });
        assert.equal(raw.status, 304, 'a list split over two header lines');
        for (const inm of ['"abc"', '"0"', `${tag.slice(0, -1)}0"`, 'garbage', `${tag.slice(0, -1)}-identity"`]) {
            const res = await get('n', { 'If-None-Match': inm });
            assert.equal(res.status, 200, `If-None-Match: ${inm}`);
            assert.equal(res.text, 'not modified');
        }
    });

    test('If-Modified-Since: 304 at or after Last-Modified, 200 before; every HTTP-date form; bad dates ignored', T, async () => {
        const lm = Date.parse(lastModified) / 1000;
        assert.equal((await get('n', { 'If-Modified-Since': lastModified })).status, 304);
        assert.equal((await get('n', { 'If-Modified-Since': httpDate(lm + 3600) })).status, 304);
        assert.equal((await get('n', { 'If-Modified-Since': httpDate(lm - 1) })).status, 200);
        const d = new Date(lm * 1000);
        const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
        const mon = lastModified.slice(8, 11);
        const pad = (n) => String(n).padStart(2, '0');
        const hms = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
        const rfc850 = `${days[d.getUTCDay()]}, ${pad(d.getUTCDate())}-${mon}-${pad(d.getUTCFullYear() % 100)} ${hms} GMT`;
        const asctime = `${days[d.getUTCDay()].slice(0, 3)} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms} ${d.getUTCFullYear()}`;
        assert.equal((await get('n', { 'If-Modified-Since': rfc850 })).status, 304, rfc850);
        assert.equal((await get('n', { 'If-Modified-Since': asctime })).status, 304, asctime);
        for (const bad of ['yesterday', '2026-12-03T07:00:00Z', `${lastModified} junk`]) {
            assert.equal((await get('n', { 'If-Modified-Since': bad })).status, 200, bad);
        }
    });

    test('If-None-Match wins over If-Modified-Since, both ways (RFC 9110 §13.2.2)', T, async () => {
        assert.equal((await get('n', { 'If-None-Match': '"other"', 'If-Modified-Since': lastModified })).status, 200);
        const lm = Date.parse(lastModified) / 1000;
        assert.equal((await get('n', { 'If-None-Match': tag, 'If-Modified-Since': httpDate(lm - 86400) })).status, 304);
    });

    test('after a write the old validators get the new record', T, async () => {
        const fresh = await putTag('n2', 'one');
        const next = await putTag('n2', 'two');
        const res = await get('n2', { 'If-None-Match': fresh });
        assert.equal(res.status, 200);
        assert.equal(res.text, 'two');
        assert.equal(res.headers.etag, next);
    });

    test('a missing record is 404 whatever the preconditions', T, async () => {
        assertApiError(await get('nope', { 'If-None-Match': '*' }), 404, 'record-not-found');
        assertApiError(await get('nope', { 'If-Match': '*' }), 404, 'record-not-found');
    });
});

describe('If-Match and If-Unmodified-Since on GET → 412', () => {
    test('a stale or weak If-Match, or an earlier If-Unmodified-Since, is 412; If-Match decides first', T, async () => {
        const res = await put('m', 'v');
        const { etag: tag, 'last-modified': lm } = res.headers;
        assert.equal((await get('m', { 'If-Match': tag })).status, 200);
        assert.equal((await get('m', { 'If-Match': '*' })).status, 200);
        assertApiError(await get('m', { 'If-Match': '"0"' }), 412, 'precondition-failed');
        assertApiError(await get('m', { 'If-Match': `W/${tag}` }), 412, 'precondition-failed');
        const before = httpDate(Date.parse(lm) / 1000 - 1);
        assertApiError(await get('m', { 'If-Unmodified-Since': before }), 412, 'precondition-failed');
        assert.equal((await get('m', { 'If-Unmodified-Since': lm })).status, 200);
        assert.equal((await get('m', { 'If-Match': tag, 'If-Unmodified-Since': before })).status, 200, 'If-Match wins');
    });
});

describe('conditional writes', () => {
    test('If-None-Match: * creates only when the key is absent', T, async () => {
        assert.equal((await put('once', 'first', { 'If-None-Match': '*' })).status, 201);
        assertApiError(await put('once', 'second', { 'If-None-Match': '*' }), 412, 'precondition-failed');
        assert.equal((await get('once')).text, 'first');
    });

    test('If-Match: the current tag writes, a stale one is 412 and changes nothing', T, async () => {
        const t1 = await putTag('cas', '1');
        const t2 = await putTag('cas', '2', { 'If-Match': t1 });
        assert.notEqual(t2, t1);
        assertApiError(await put('cas', 'lost', { 'If-Match': t1 }), 412, 'precondition-failed');
        const now = await get('cas');
        assert.equal(now.text, '2');
        assert.equal(now.headers.etag, t2);
        assert.equal((await put('cas', '3', { 'If-Match': `"0", ${t2}` })).status, 201, 'a list with the tag');
        assertApiError(await put('cas', 'weak', { 'If-Match': `W/${(await get('cas')).headers.etag}` }), 412, 'precondition-failed');
    });

    test('a write that cannot pass is refused before its body: 412 at once after Expect: 100-continue', T, async () => {
        await putTag('big-once', 'exists');
        const head = `PUT ${recordPath(store.id, 'big-once')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n` +
            'Content-Type: text/plain\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\nIf-None-Match: *\r\n\r\n';
        const raw = await rawExchange(server, head, { timeoutMs: ms(5000), untilResponse: true });
        assert.equal(raw.status, 412, raw.text.slice(0, 200));
        assert.ok(!raw.text.startsWith('HTTP/1.1 100'), 'no 100 Continue first');
        assert.equal((await get('big-once')).text, 'exists');
    });

    test('If-Match: * needs the record; nothing is created', T, async () => {
        assertApiError(await put('ghost', 'x', { 'If-Match': '*' }), 412, 'precondition-failed');
        assertApiError(await get('ghost'), 404, 'record-not-found');
        assert.equal((await put('ghost', 'x')).status, 201);
        assert.equal((await put('ghost', 'y', { 'If-Match': '*' })).status, 201);
    });

    test('the tag of the decoded form works for If-Match too (the condition is about the record)', T, async () => {
        await put('br', zlib.brotliCompressSync(Buffer.from('brotli '.repeat(200))), { 'Content-Encoding': 'br' });
        const decodedTag = (await get('br')).headers.etag;
        assert.match(decodedTag, /-identity"$/);
        assert.equal((await put('br', 'plain now', { 'If-Match': decodedTag })).status, 201);
    });

    test('If-None-Match with the current tag, and If-Unmodified-Since before the last write, are 412', T, async () => {
        const res = await put('iums', 'v');
        assertApiError(await put('iums', 'x', { 'If-None-Match': res.headers.etag }), 412, 'precondition-failed');
        const before = httpDate(Date.parse(res.headers['last-modified']) / 1000 - 1);
        assertApiError(await put('iums', 'x', { 'If-Unmodified-Since': before }), 412, 'precondition-failed');
        assert.equal((await put('iums', 'y', { 'If-Unmodified-Since': res.headers['last-modified'] })).status, 201);
        assert.equal((await put('iums', 'z', { 'If-Modified-Since': httpDate(2000000000) })).status, 201, 'If-Modified-Since is for GET only');
    });

    test('POST takes the same preconditions', T, async () => {
        const tag = await putTag('post', 'a');
        assertApiError(await put('post', 'b', { 'If-Match': '"0"' }, 'POST'), 412, 'precondition-failed');
        assert.equal((await put('post', 'b', { 'If-Match': tag }, 'POST')).status, 201);
    });

    test('DELETE: a stale If-Match keeps the record; If-Match: * of a missing key is 412, If-None-Match: * is 204', T, async () => {
        const t1 = await putTag('d', '1');
        const t2 = await putTag('d', '2');
        assertApiError(await del('d', { 'If-Match': t1 }), 412, 'precondition-failed');
        assert.equal((await get('d')).text, '2');
        assert.equal((await del('d', { 'If-Match': t2 })).status, 204);
        assertApiError(await get('d'), 404, 'record-not-found');
        assertApiError(await del('d', { 'If-Match': '*' }), 412, 'precondition-failed');
        assert.equal((await del('d', { 'If-None-Match': '*' })).status, 204);
        assert.equal((await del('d')).status, 204, 'unconditional: 204 as before');
    });

    test('a list of more than 16 of our entity-tags → 400 invalid-value; nothing changes', T, async () => {
        const tag = await putTag('many', 'v');
        const list = Array.from({ length: 17 }, (_, i) => `"${(i + 1).toString(16)}"`).join(', ');
        assertApiError(await put('many', 'x', { 'If-Match': list }), 400, 'invalid-value');
        assertApiError(await get('many', { 'If-None-Match': list }), 400, 'invalid-value');
        assertApiError(await del('many', { 'If-Match': list }), 400, 'invalid-value');
        assert.equal((await get('many')).headers.etag, tag);
    });

    test('a store that does not exist is 404 whatever the preconditions', T, async () => {
        assertApiError(await put('k', 'x', { 'If-None-Match': '*' }, 'PUT', 'AAAAAAAAAAAAAAAAA'), 404, 'record-not-found');
    });
});

describe('optimistic concurrency: a shared counter', () => {
    /** One increment by read-modify-write with If-Match, retried on 412; resolves with the retries. */
    async function increment(agent, key) {
        for (let retries = 0; ; retries++) {
            const cur = await agentRequest(agent, 'GET', key);
            assert.equal(cur.status, 200);
            const next = String(Number(cur.body) + 1);
            const res = await agentRequest(agent, 'PUT', key, next, { 'If-Match': cur.headers.etag, 'Content-Type': 'text/plain' });
            if (res.status === 201) return retries;
            assert.equal(res.status, 412, `PUT: ${res.status} ${res.body}`);
        }
    }

    function agentRequest(agent, method, key, body, headers = {}) {
        return new Promise((resolve, reject) => {
            const u = new URL(server.url);
            const req = http.request(
                { host: u.hostname, port: u.port, method, path: recordPath(store.id, key), agent, headers: { Authorization: `Bearer ${server.token}`, ...headers } },
                (res) => {
                    let data = '';
                    res.setEncoding('utf8');
                    res.on('data', (c) => (data += c));
                    res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
                },
            );
            req.on('error', reject);
            req.end(body);
        });
    }

    test('32 clients × 50 increments with If-Match, retrying on 412 → exactly 1,600', { timeout: ms(300_000) }, async (t) => {
        assert.equal((await put('counter', '0')).status, 201);
        const CLIENTS = 32;
        const EACH = 50;
        let retries = 0;
        await Promise.all(
            Array.from({ length: CLIENTS }, async () => {
                const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
                try {
                    for (let i = 0; i < EACH; i++) retries += await increment(agent, 'counter');
                } finally {
                    agent.destroy();
                }
            }),
        );
        const final = await get('counter');
        assert.equal(final.text, String(CLIENTS * EACH));
        const stats = JSON.parse((await request(server, { path: storePath(store.id) })).text).data.stats;
        assert.ok(stats.writeCount >= CLIENTS * EACH, 'every successful increment was one write');
        // not asserted (it depends on timing), but on record in the test's output
        t.diagnostic(`${CLIENTS * EACH} increments, ${retries} retried after 412`);
    });

    test('the same with curl: 8 shell loops × 10 increments → exactly 80', { timeout: ms(300_000) }, async () => {
        assert.equal((await put('curl-counter', '0')).status, 201);
        const url = `${server.url}${recordPath(store.id, 'curl-counter')}`;
        // one increment: GET with the headers into a file, then PUT If-Match that ETag; again on 412
        const script = `
set -eu
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
i=0
while [ "$i" -lt 10 ]; do
    curl -sS -D "$d/h" -o "$d/b" -H "Authorization: Bearer $TOKEN" "$URL"
    etag=$(tr -d '\\r' < "$d/h" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \\
        -H "If-Match: $etag" -H 'Content-Type: text/plain' --data "$(( $(cat "$d/b") + 1 ))" "$URL")
    case "$code" in
    201) i=$((i + 1)) ;;
    412) ;;
    *) echo "unexpected $code" >&2; exit 1 ;;
    esac
done`;
        const runs = Array.from({ length: 8 }, () => new Promise((resolve, reject) => {
            const p = spawn('sh', ['-c', script], { env: { ...process.env, TOKEN: server.token, URL: url }, stdio: ['ignore', 'ignore', 'pipe'] });
            let err = '';
            p.stderr.on('data', (c) => (err += c));
            p.on('error', reject);
            p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`curl loop exited ${code}: ${err}`))));
        }));
        await Promise.all(runs);
        assert.equal((await get('curl-counter')).text, '80');
    });
});

describe('If-Range', () => {
    const VALUE = 'abcdefghijklmnopqrstuvwxyz';
    let tag;
    let lm;
    before(async () => {
        const res = await put('ir', VALUE);
        tag = res.headers.etag;
        lm = res.headers['last-modified'];
    });

    test('the current tag: the Range is honoured (206)', T, async () => {
        const res = await get('ir', { Range: 'bytes=5-9', 'If-Range': tag });
        assert.equal(res.status, 206);
        assert.equal(res.text, 'fghij');
        assert.equal(res.headers.etag, tag);
    });

    test('a stale tag, a weak one, or a date (a weak validator here): the whole record (200)', T, async () => {
        for (const ir of ['"0"', `W/${tag}`, lm]) {
            const res = await get('ir', { Range: 'bytes=5-9', 'If-Range': ir });
            assert.equal(res.status, 200, `If-Range: ${ir}`);
            assert.equal(res.text, VALUE);
        }
    });

    test('If-Range without Range is ignored; a 304 wins over a Range', T, async () => {
        assert.equal((await get('ir', { 'If-Range': '"0"' })).status, 200);
        const res = await get('ir', { Range: 'bytes=0-1', 'If-None-Match': tag });
        assert.equal(res.status, 304);
    });

    test('resuming a download of a record that changed meanwhile starts over', T, async () => {
        const first = await get('ir', { Range: 'bytes=0-9' });
        assert.equal(first.status, 206);
        await put('ir', VALUE.toUpperCase());
        const rest = await get('ir', { Range: 'bytes=10-', 'If-Range': first.headers.etag });
        assert.equal(rest.status, 200);
        assert.equal(rest.text, VALUE.toUpperCase());
    });
});

describe('Cache-Control', () => {
    async function storeWith(ga) {
        const { store: s, kvs } = await createStore(client, 'cache');
        if (ga) await kvs.update({ generalAccess: ga });
        await put('r', 'x', {}, 'PUT', s.id);
        return s;
    }

    test('a restricted store: private, also for its owner', T, async () => {
        const s = await storeWith('RESTRICTED');
        assert.equal((await get('r', {}, { ref: s.id })).headers['cache-control'], 'private, no-cache');
    });

    test('anyone with the ID can read: public by ID (with or without a token), private by name', T, async () => {
        const s = await storeWith('ANYONE_WITH_ID_CAN_READ');
        assert.equal((await get('r', {}, { ref: s.id })).headers['cache-control'], 'public, no-cache');
        assert.equal((await get('r', {}, { ref: s.id, token: false })).headers['cache-control'], 'public, no-cache');
        assert.equal((await get('r', {}, { ref: `admin~${s.name}` })).headers['cache-control'], 'private, no-cache');
    });

    test('anyone with the name can read: public by name too', T, async () => {
        const s = await storeWith('ANYONE_WITH_NAME_CAN_READ');
        assert.equal((await get('r', {}, { ref: `admin~${s.name}` })).headers['cache-control'], 'public, no-cache');
    });

    test('a signed URL of a restricted record: public; a 304 carries Cache-Control too', T, async () => {
        const s = await storeWith('RESTRICTED');
        const u = new URL(await client.keyValueStore(s.id).getRecordPublicUrl('r'));
        const res = await request(server.url, { path: u.pathname + u.search, token: false });
        assert.equal(res.status, 200);
        assert.equal(res.headers['cache-control'], 'public, no-cache');
        const again = await request(server.url, { path: u.pathname + u.search, token: false, headers: { 'If-None-Match': res.headers.etag } });
        assert.equal(again.status, 304);
        assert.equal(again.headers['cache-control'], 'public, no-cache');
    });

    test('--cache-max-age N: public records may be used N seconds without asking; private ones stay no-cache', { ...T, skip: NEEDS_SPAWN }, async () => {
        const s2 = await startServer({ args: ['--cache-max-age', '60'] });
        try {
            const c2 = makeClient(s2);
            const { store: open, kvs } = await createStore(c2, 'maxage');
            await kvs.update({ generalAccess: 'ANYONE_WITH_ID_CAN_READ' });
            await kvs.setRecord({ key: 'r', value: 'x', contentType: 'text/plain' });
            const { store: closed, kvs: kvs2 } = await createStore(c2, 'maxage');
            await kvs2.setRecord({ key: 'r', value: 'x', contentType: 'text/plain' });
            assert.equal((await request(s2, { path: recordPath(open.id, 'r') })).headers['cache-control'], 'public, max-age=60');
            assert.equal((await request(s2, { path: recordPath(closed.id, 'r') })).headers['cache-control'], 'private, no-cache');
        } finally {
            await s2.stop();
        }
    });
});
