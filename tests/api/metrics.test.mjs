// GET /metrics (Prometheus text format) and the access log (--access-log, --log-format).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import {
    assertApiError,
    createStore,
    makeClient,
    makeTempDir,
    ms,
    NEEDS_SPAWN,
    randomToken,
    recordPath,
    request,
    runKvs,
    startServer,
    waitFor,
} from '../lib/server.mjs';

const T = { timeout: ms(60_000), skip: NEEDS_SPAWN };

/** Parses exposition text into a Map of 'name{labels}' → number. */
function parseMetrics(text) {
    const m = new Map();
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        assert.ok(match, `a valid sample line: ${line}`);
        m.set(match[1], Number(match[2]));
    }
    return m;
}

describe('GET /metrics', T, () => {
    let server;
    let store;
    before(async () => {
        server = await startServer();
        ({ store } = await createStore(makeClient(server), 'metrics'));
    });
    after(async () => server?.stop());

    test('needs the admin token; a stranger gets 403, no token 401', async () => {
        assertApiError(await request(server, { path: '/metrics', token: false }), 401, 'token-not-provided');
        assertApiError(await request(server, { path: '/metrics', token: randomToken() }), 401, 'user-or-token-not-found');
        const add = await request(server, {
            method: 'POST',
            path: '/v2/users',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ username: 'metricsuser' }),
        });
        assert.equal(add.status, 201, add.text);
        const userToken = add.json().data.token;
        assertApiError(await request(server, { path: '/metrics', token: userToken }), 403, 'insufficient-permissions');
        assertApiError(await request(server, { method: 'POST', path: '/metrics' }), 405, 'method-not-allowed');
    });

    test('counts requests by route and code, latency, bytes and storage writes', async () => {
        const before = parseMetrics((await request(server, { path: '/metrics' })).text);
        const body = 'x'.repeat(1000);
        for (let i = 0; i < 3; i++) {
            const put = await request(server, {
                method: 'PUT',
                path: recordPath(store.id, `k${i}`),
                headers: { 'Content-Type': 'text/plain' },
                body,
            });
            assert.equal(put.status, 201);
        }
        assert.equal((await request(server, { path: recordPath(store.id, 'k0') })).status, 200);
        assert.equal((await request(server, { path: recordPath(store.id, 'nope') })).status, 404);
        assert.equal((await request(server, { path: '/nowhere' })).status, 404);

        const res = await request(server, { path: '/metrics' });
        assert.equal(res.status, 200);
        assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
        assert.match(res.text, /# TYPE kvs_http_requests_total counter/);
        assert.match(res.text, /# TYPE kvs_http_request_duration_seconds histogram/);
        const after = parseMetrics(res.text);
        const d = (k) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
        assert.equal(d('kvs_http_requests_total{route="record.put",code="201"}'), 3);
        assert.equal(d('kvs_http_requests_total{route="record.get",code="200"}'), 1);
        assert.equal(d('kvs_http_requests_total{route="record.get",code="404"}'), 1);
        assert.equal(d('kvs_http_requests_total{route="none",code="404"}'), 1);
        assert.equal(d('kvs_http_request_duration_seconds_count{route="record.put"}'), 3);
        assert.equal(d('kvs_http_request_duration_seconds_bucket{route="record.put",le="+Inf"}'), 3);
        assert.ok(d('kvs_http_request_duration_seconds_sum{route="record.put"}') > 0);
        // buckets are cumulative
        const les = [...after.keys()].filter((k) => k.startsWith('kvs_http_request_duration_seconds_bucket{route="record.put"'));
        const vals = les.map((k) => after.get(k));
        assert.deepEqual(vals, [...vals].sort((a, b) => a - b));
        assert.ok(d('kvs_http_request_body_bytes_total') >= 3000);
        assert.ok(d('kvs_http_response_body_bytes_total') >= 1000);
        assert.ok(d('kvs_storage_writes_total') >= 3);
        assert.ok(d('kvs_storage_sync_batches_total') >= 1);
        assert.ok(after.get('kvs_storage_bytes') > 0);
        assert.equal(d('kvs_records'), 3, 'three new records');
        assert.ok(after.get('kvs_stores') >= 1);
        assert.ok(after.get('kvs_users') >= 1);
        assert.equal(after.get('kvs_http_header_timeouts_total'), 0);
        assert.ok(after.get('kvs_http_requests_in_flight') >= 1, 'the scrape itself is in flight');
    });

    test('--metrics-public: no token needed', async () => {
        const pub = await startServer({ args: ['--metrics-public'] });
        try {
            const res = await request(pub, { path: '/metrics', token: false });
            assert.equal(res.status, 200);
            assert.match(res.text, /kvs_storage_sync_batches_total \d+/);
        } finally {
            await pub.stop();
        }
    });
});

describe('access log', T, () => {
    for (const format of ['text', 'json']) {
        test(`--access-log FILE --log-format ${format}: one line per request, no token or query`, async () => {
            const dir = await makeTempDir('kvs-alog-');
            const file = path.join(dir, 'access.log');
            const server = await startServer({ args: ['--access-log', file, '--log-format', format] });
            try {
                const { store } = await createStore(makeClient(server), 'alog');
                const secret = server.token;
                await request(server, {
                    method: 'PUT',
                    path: `${recordPath(store.id, 'k')}?token=${secret}`,
                    token: false,
                    headers: { 'Content-Type': 'text/plain' },
                    body: 'hello',
                });
                await request(server, { path: `${recordPath(store.id, 'k')}?signature=abc&x=1`, token: false });
                await request(server, { path: '/we%22ird%0a', token: false });
                const text = await waitFor(async () => {
                    const t = await fs.readFile(file, 'utf8').catch(() => '');
                    return t.includes('we') ? t : null;
                });
                assert.ok(!text.includes(secret), 'the token is never logged');
                assert.ok(!text.includes('signature'), 'the query is never logged');
                const lines = text.trimEnd().split('\n');
                assert.ok(lines.length >= 5, text); // health checks, create, put, get, weird
                if (format === 'json') {
                    const objs = lines.map((l) => JSON.parse(l));
                    const put = objs.find((o) => o.method === 'PUT');
                    assert.equal(put.route, 'record.put');
                    assert.equal(put.status, 201);
                    assert.equal(put.bytesIn, 5);
                    assert.equal(put.user, 'admin');
                    assert.equal(put.path, recordPath(store.id, 'k'));
                    assert.equal(typeof put.ms, 'number');
                    assert.match(put.time, /^\d{4}-\d\d-\d\dT/);
                    const get = objs.find((o) => o.method === 'GET' && o.route === 'record.get');
                    assert.equal(get.status, 403); // a bad signature
                    assert.equal(get.user, null);
                    const weird = objs.find((o) => o.path.startsWith('/we'));
                    assert.equal(weird.path, '/we%22ird%0a');
                    assert.equal(weird.status, 404);
                } else {
                    const put = lines.find((l) => / PUT /.test(l)).split(' ');
                    assert.equal(put.length, 10, lines.join('\n'));
                    assert.equal(put[2], 'PUT');
                    assert.equal(put[3], recordPath(store.id, 'k'));
                    assert.equal(put[4], 'record.put');
                    assert.equal(put[5], '201');
                    assert.equal(put[6], '5');
                    assert.equal(put[9], 'admin');
                }
            } finally {
                await server.stop();
                await fs.rm(dir, { recursive: true, force: true });
            }
        });
    }

    test('off by default: nothing per request on stderr', async () => {
        const server = await startServer();
        try {
            for (let i = 0; i < 3; i++) await request(server, { path: '/health' });
            assert.doesNotMatch(server.stderr(), /\/health/);
        } finally {
            await server.stop();
        }
    });

    test('options are checked', async () => {
        const bad = await runKvs(['serve', '--log-format', 'xml']);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--log-format/);
        const nodir = await runKvs(['serve', '--access-log', '/nonexistent-dir/a.log', '--listen', '127.0.0.1:0']);
        assert.equal(nodir.code, 1);
        assert.match(nodir.stderr, /access log/);
    });
});
