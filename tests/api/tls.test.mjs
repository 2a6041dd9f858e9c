// HTTPS: `kvs serve --tls-cert FILE --tls-key FILE` with certificates made by openssl here.
// The official apify-client over HTTPS (NODE_EXTRA_CA_CERTS), curl --cacert, plain HTTP refused
// on the TLS port, TLS 1.2+ with AEAD ciphers only, every start-up error, and SIGHUP reloading
// the certificate without dropping open connections.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { makeCert } from '../lib/certs.mjs';
import { rawExchange } from '../lib/raw.mjs';
import { NEEDS_SPAWN, makeTempDir, ms, request, runKvs, startServer, uniqueName, waitFor } from '../lib/server.mjs';

const T = { timeout: ms(60_000), skip: NEEDS_SPAWN };
const HERE = path.dirname(fileURLToPath(import.meta.url));
const DAY = 86400_000;

let dir;
let good; // the certificate the shared server starts with
let server;

before(async () => {
    if (NEEDS_SPAWN) return;
    dir = await makeTempDir('kvs-tls-');
    good = await makeCert(dir, 'good');
    server = await startServer({ tls: { cert: good.cert, key: good.key, ca: good.pem } });
});

after(async () => {
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** Runs a command to completion; resolves { code, stdout, stderr } (never rejects on exit codes). */
function runCmd(cmd, args, { input = '', env = process.env, timeoutMs = ms(30_000) } = {}) {
    return new Promise((resolve, reject) => {
        const child = execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err && typeof err.code !== 'number') reject(err);
            else resolve({ code: err ? err.code : 0, stdout, stderr });
        });
        child.stdin.on('error', () => {}); // a command that exits before reading its input
        child.stdin.end(input);
    });
}

/** openssl s_client against the server with ARGS; { ok: handshake done, protocol, cipher }. */
async function sClient(args) {
    const res = await runCmd('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, ...args]);
    const m = /New, (\S+), Cipher is (\S+)/.exec(res.stdout);
    return { ok: !!m && m[2] !== '(NONE)', protocol: m?.[1], cipher: m?.[2], output: res.stdout + res.stderr };
}

/** GET PATH over https through AGENT; resolves { status, body, cn, socket, reused }. */
function httpsGet(agent, target, extra = {}) {
    return new Promise((resolve, reject) => {
        const req = https.request(
            { host: '127.0.0.1', port: server.port, path: target, agent, headers: { Authorization: `Bearer ${server.token}` }, ...extra },
            (res) => {
                const { socket } = res; // handed back to the agent once the body is read
                const cn = socket.getPeerCertificate().subject?.CN;
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () =>
                    resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), cn, socket, reused: req.reusedSocket }),
                );
            },
        );
        req.on('error', reject);
        req.end();
    });
}

describe('HTTPS clients', () => {
    test('the official apify-client over HTTPS, trusting the certificate through NODE_EXTRA_CA_CERTS', T, async () => {
        const storeName = uniqueName('tls');
        const res = await runCmd(process.execPath, [path.join(HERE, '..', 'lib', 'tls-client.mjs')], {
            env: { ...process.env, NODE_EXTRA_CA_CERTS: good.cert, KVS_URL: server.url, KVS_TOKEN: server.token, KVS_STORE: storeName },
        });
        assert.equal(res.code, 0, `client failed:\n${res.stderr}`);
        const seen = JSON.parse(res.stdout.trim().split('\n').pop());
        assert.deepEqual(seen.value, { hello: 'over TLS' });
        assert.equal(seen.contentType, 'application/json; charset=utf-8');
        assert.equal(seen.bigOk, true, 'a 200 kB record round-trips');
        assert.deepEqual(seen.keys, ['big', 'greeting']);
        assert.equal(seen.exists, true);
        assert.equal(seen.missing, false);
        // links the server builds from the Host header say https
        const store = JSON.parse((await request(server, { path: `/v2/key-value-stores/${seen.storeId}` })).text).data;
        assert.match(store.keysPublicUrl, /^https:\/\/127\.0\.0\.1:\d+\//);
    });

    test('curl --cacert: PUT and GET a record; without the CA curl refuses the certificate', T, async () => {
        const auth = `Authorization: Bearer ${server.token}`;
        const created = await runCmd('curl', ['-sS', '--cacert', good.cert, '-X', 'POST', '-H', auth,
            `${server.url}/v2/key-value-stores?name=${uniqueName('curl')}`]);
        assert.equal(created.code, 0, created.stderr);
        const id = JSON.parse(created.stdout).data.id;
        const url = `${server.url}/v2/key-value-stores/${id}/records/note`;
        const put = await runCmd('curl', ['-sS', '--cacert', good.cert, '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT',
            '-H', auth, '-H', 'Content-Type: text/plain', '--data-binary', 'hello over https', url]);
        assert.equal(put.stdout, '201', put.stderr);
        const get = await runCmd('curl', ['-sS', '--cacert', good.cert, '-H', auth, url]);
        assert.equal(get.stdout, 'hello over https');
        const untrusted = await runCmd('curl', ['-sS', '-H', auth, url]);
        assert.equal(untrusted.code, 60, 'curl: peer certificate cannot be authenticated');
        const localhost = await runCmd('curl', ['-sS', '--cacert', good.cert, '-H', auth,
            url.replace('127.0.0.1', 'localhost')]);
        assert.equal(localhost.stdout, 'hello over https', 'the name in the certificate works too');
    });

    test('plain HTTP on the TLS port gets no HTTP answer and the connection is closed', T, async () => {
        const res = await rawExchange(server, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: ms(5000) });
        assert.equal(res.status, 0, `no HTTP status line: ${JSON.stringify(res.text.slice(0, 80))}`);
        assert.ok(res.closed, 'the server closed the connection');
        assert.ok(!/HTTP\/1\.[01]/.test(res.text));
        const curl = await runCmd('curl', ['-sS', `http://127.0.0.1:${server.port}/health`]);
        assert.notEqual(curl.code, 0, 'curl over http:// fails');
    });
});

describe('TLS versions and ciphers', () => {
    test('TLS 1.3 and TLS 1.2 with ECDHE + AES-GCM or ChaCha20 are accepted', T, async () => {
        const v13 = await sClient(['-tls1_3']);
        assert.ok(v13.ok, v13.output);
        assert.equal(v13.protocol, 'TLSv1.3');
        for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
            const r = await sClient(['-tls1_2', '-cipher', cipher]);
            assert.ok(r.ok, `${cipher}: ${r.output}`);
            assert.equal(r.cipher, cipher);
        }
    });

    test('TLS 1.0 and 1.1 are refused even when the client offers them', T, async () => {
        for (const v of ['-tls1', '-tls1_1']) {
            const r = await sClient([v, '-cipher', 'ALL:@SECLEVEL=0']);
            assert.equal(r.ok, false, `${v} must fail: ${r.output}`);
        }
    });

    test('TLS 1.2 without forward secrecy or with CBC ciphers is refused', T, async () => {
        for (const cipher of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'AES128-GCM-SHA256']) {
            const r = await sClient(['-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`]);
            assert.equal(r.ok, false, `${cipher} must fail: ${r.output}`);
        }
    });

    test('an RSA certificate works as well (ECDHE-RSA)', T, async () => {
        const rsa = await makeCert(dir, 'rsa', { keyType: 'rsa' });
        const s = await startServer({ tls: { cert: rsa.cert, key: rsa.key, ca: rsa.pem } });
        try {
            const res = await request(s, { path: '/health' });
            assert.equal(res.status, 200);
            const saved = server;
            server = s;
            try {
                const r = await sClient(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
                assert.ok(r.ok, r.output);
            } finally {
                server = saved;
            }
        } finally {
            await s.stop();
        }
    });
});

describe('start-up errors', () => {
    /** Runs `kvs serve` with CERT and KEY; asserts exit status 1 and a message matching RE. */
    async function refused(cert, key, re) {
        const data = path.join(dir, `data-${uniqueName('x')}`);
        const args = ['serve', '--listen', '127.0.0.1:0', '--data', data];
        if (cert) args.push('--tls-cert', cert);
        if (key) args.push('--tls-key', key);
        const res = await runKvs(args);
        assert.equal(res.code, key && cert ? 1 : 2, `exit status; stderr: ${res.stderr}`);
        assert.match(res.stderr, re);
        assert.equal(res.stderr.trim().split('\n').length, 1, `one line: ${res.stderr}`);
        await assert.rejects(fs.stat(data), 'nothing was created');
    }

    test('a missing certificate or key file', T, async () => {
        await refused(path.join(dir, 'none.pem'), good.key, /^kvs serve: TLS: cannot read the certificate file .*none\.pem: No such file or directory$/m);
        await refused(good.cert, path.join(dir, 'nokey.pem'), /^kvs serve: TLS: cannot read the key file .*nokey\.pem: No such file or directory$/m);
    });

    test('an unreadable file: a directory, or a file without read permission', T, async () => {
        await refused(dir, good.key, /TLS: cannot read the certificate file .*: Is a directory$/m);
        if (process.getuid() !== 0) {
            // root reads any file; elsewhere, a file without read permission
            const locked = path.join(dir, 'locked.pem');
            await fs.copyFile(good.key, locked);
            await fs.chmod(locked, 0o000);
            await refused(good.cert, locked, /TLS: cannot read the key file .*locked\.pem: Permission denied$/m);
        }
    });

    test('files that hold no certificate or no key', T, async () => {
        const junk = path.join(dir, 'junk.pem');
        await fs.writeFile(junk, 'this is not PEM\n');
        await refused(junk, good.key, /TLS: .*junk\.pem holds no PEM certificate/);
        await refused(good.cert, junk, /TLS: .*junk\.pem holds no usable PEM private key/);
        await refused(good.key, good.cert, /TLS: .*holds no PEM certificate/); // swapped
    });

    test('a key that does not belong to the certificate', T, async () => {
        const other = await makeCert(dir, 'other');
        await refused(good.cert, other.key, /TLS: the key in .*other\.key\.pem does not belong to the certificate in .*good\.cert\.pem$/m);
    });

    test('an expired certificate, and one not valid yet', T, async () => {
        const expired = await makeCert(dir, 'expired', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
        await refused(expired.cert, expired.key, /TLS: the certificate in .*expired\.cert\.pem expired on 2020-02-01 00:00:00 UTC$/m);
        const future = await makeCert(dir, 'future', { notBefore: new Date(Date.now() + 30 * DAY), notAfter: new Date(Date.now() + 60 * DAY) });
        await refused(future.cert, future.key, /TLS: the certificate in .*future\.cert\.pem is not valid before \d{4}-\d\d-\d\d/);
    });

    test('--tls-cert without --tls-key, and the other way round', T, async () => {
        await refused(good.cert, null, /--tls-cert needs --tls-key too/);
        await refused(null, good.key, /--tls-key needs --tls-cert too/);
    });
});

describe('SIGHUP reloads the certificate', () => {
    test('new handshakes get the new certificate; an open connection goes on; a bad reload changes nothing', T, async () => {
        const a = await makeCert(dir, 'reload-a', { cn: 'first' });
        const b = await makeCert(dir, 'reload-b', { cn: 'second' });
        const certPath = path.join(dir, 'live.cert.pem');
        const keyPath = path.join(dir, 'live.key.pem');
        await fs.copyFile(a.cert, certPath);
        await fs.copyFile(a.key, keyPath);
        const s = await startServer({ tls: { cert: certPath, key: keyPath, ca: a.pem } });
        const saved = server;
        server = s;
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: [a.pem, b.pem] });
        try {
            const first = await httpsGet(agent, '/health');
            assert.equal(first.status, 200);
            assert.equal(first.cn, 'first');

            await fs.copyFile(b.cert, certPath);
            await fs.copyFile(b.key, keyPath);
            s.proc.kill('SIGHUP');
            await waitFor(() => /reloaded the TLS certificate: CN=second/.test(s.stderr()), { message: 'the reload in the log' });

            const again = await httpsGet(agent, '/v2/key-value-stores');
            assert.equal(again.status, 200, 'the open connection still answers');
            assert.equal(again.reused, true, 'on the same connection');
            assert.equal(again.socket, first.socket);
            assert.equal(again.cn, 'first', 'which keeps its session');
            const fresh = await httpsGet(false, '/health', { ca: b.pem });
            assert.equal(fresh.status, 200);
            assert.equal(fresh.cn, 'second', 'a new connection gets the new certificate');

            // a reload that fails its checks leaves the current certificate in place
            const stray = await makeCert(dir, 'stray');
            await fs.copyFile(stray.key, keyPath);
            s.proc.kill('SIGHUP');
            await waitFor(() => /not reloaded, the old one stays: the key in .* does not belong/.test(s.stderr()), { message: 'the failed reload in the log' });
            const still = await httpsGet(false, '/health', { ca: b.pem });
            assert.equal(still.cn, 'second');
            const onOld = await httpsGet(agent, '/health');
            assert.equal(onOld.status, 200);
            assert.equal(onOld.socket, first.socket, 'the first connection is still open');
        } finally {
            agent.destroy();
            server = saved;
            await s.stop();
        }
    });

    test('SIGHUP without TLS is logged and does not stop the server', T, async () => {
        const s = await startServer();
        try {
            s.proc.kill('SIGHUP');
            await waitFor(() => /SIGHUP: nothing to reload/.test(s.stderr()), { message: 'the log line' });
            assert.equal((await request(s, { path: '/health' })).status, 200);
        } finally {
            await s.stop();
        }
    });
});
