// libkvs as its users get it: `make install PREFIX=…` (and DESTDIR), a program built with
// `cc $(pkg-config --cflags --libs kvs)` against the installed library and run against a real
// server (libkvs_check.c), the same program linked statically with libkvs.a, and the examples
// of examples/ (built by `make examples`).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { NEEDS_SPAWN, makeClient, mapLimit, ms, uniqueName } from '../lib/server.mjs';
import { BUILD, REPO, run, serverFixture, show } from './lib.mjs';

const T = { timeout: ms(300_000) };
const MAKE_ARGS = (process.env.KVS_MAKE_ARGS || '').split(' ').filter(Boolean);

function ok(r, what = '') {
    assert.equal(r.code, 0, `${what}\n${show(r)}`);
    return r;
}

/** pkg-config ARGS for the installation under PREFIX. */
async function pkgConfig(prefix, ...args) {
    const r = ok(await run('pkg-config', args, { env: { PKG_CONFIG_PATH: path.join(prefix, 'lib', 'pkgconfig') } }), 'pkg-config');
    return r.out.trim().split(/\s+/).filter(Boolean);
}

describe('libkvs: install, pkg-config, examples', { skip: NEEDS_SPAWN }, () => {
    let server, tmp, prefix;
    const ctx = serverFixture('kvs-libkvs-');
    before(async () => {
        ({ server, tmp } = ctx);
        prefix = path.join(tmp, 'prefix');
        ok(await run('make', ['-s', '-C', REPO, ...MAKE_ARGS, 'install', `PREFIX=${prefix}`], { env: { MAKEFLAGS: undefined, MFLAGS: undefined }, timeoutMs: ms(240_000) }), 'make install');
    });
    const env = () => ({ KVS_URL: server.url, KVS_TOKEN: server.token });

    test('make install PREFIX gives the binary, both headers, both libraries (versioned), kvs.pc and the completion', T, async () => {
        for (const f of ['bin/kvs', 'include/kvs.h', 'include/kvs/client.h', 'lib/libkvs.a', 'lib/libkvs.so.1.0.0', 'lib/pkgconfig/kvs.pc', 'share/bash-completion/completions/kvs']) {
            assert.ok((await fs.stat(path.join(prefix, f))).isFile(), f);
        }
        assert.equal(await fs.readlink(path.join(prefix, 'lib/libkvs.so.1')), 'libkvs.so.1.0.0');
        assert.equal(await fs.readlink(path.join(prefix, 'lib/libkvs.so')), 'libkvs.so.1');
        const dyn = ok(await run('readelf', ['-d', path.join(prefix, 'lib/libkvs.so.1.0.0')])).out;
        assert.match(dyn, /\(SONAME\)\s+Library soname: \[libkvs\.so\.1\]/);
        // the shared library exports the API and nothing else
        const syms = ok(await run('nm', ['-D', '--defined-only', path.join(prefix, 'lib/libkvs.so.1.0.0')])).out.trim().split('\n').map((l) => l.split(' ').pop());
        assert.ok(syms.includes('kvs_client_open') && syms.includes('kvs_record_get_fd') && syms.includes('kvs_strerror'), syms.join(' '));
        assert.deepEqual(syms.filter((s) => !/^kvs_(client|server|store|record|keys|input|output|user|token|share|run|free|version|strerror|errname|err_status|err_type)/.test(s)), [], 'only the API');
        assert.deepEqual(syms.filter((s) => /^kvs_(buf|sign|log|pct|x)/.test(s)), []);
        const pcVersion = await pkgConfig(prefix, '--modversion', 'kvs');
        assert.deepEqual(pcVersion, ['1.0.0']);
        assert.ok((await pkgConfig(prefix, '--cflags', 'kvs')).includes(`-I${prefix}/include`));
        // the installed kvs runs, and completes
        assert.match(ok(await run(path.join(prefix, 'bin/kvs'), ['help'])).out, /kvs get STORE KEY/);
        ok(await run('bash', ['-n', path.join(prefix, 'share/bash-completion/completions/kvs')]));
    });

    test('DESTDIR stages the same files under it, for PREFIX', T, async () => {
        const stage = path.join(tmp, 'stage');
        ok(await run('make', ['-s', '-C', REPO, ...MAKE_ARGS, 'install', 'PREFIX=/opt/kvs', `DESTDIR=${stage}`], { env: { MAKEFLAGS: undefined, MFLAGS: undefined }, timeoutMs: ms(240_000) }));
        const pc = await fs.readFile(path.join(stage, 'opt/kvs/lib/pkgconfig/kvs.pc'), 'utf8');
        assert.match(pc, /^prefix=\/opt\/kvs$/m);
        assert.ok((await fs.stat(path.join(stage, 'opt/kvs/lib/libkvs.so.1.0.0'))).isFile());
    });

    test('a program built with cc $(pkg-config --cflags --libs kvs) runs against a real server', T, async () => {
        const exe = path.join(tmp, 'libkvs_check');
        const flags = await pkgConfig(prefix, '--cflags', '--libs', 'kvs');
        ok(await run('cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', exe, path.join(REPO, 'tests/cli/libkvs_check.c'), ...flags]), 'cc');
        const ldd = ok(await run('ldd', [exe], { env: { LD_LIBRARY_PATH: path.join(prefix, 'lib') } })).out;
        assert.match(ldd, new RegExp(`libkvs\\.so\\.1 => ${prefix}/lib/libkvs\\.so\\.1`), 'linked with the shared library');
        const r = ok(await run(exe, [uniqueName('check')], { env: { ...env(), LD_LIBRARY_PATH: path.join(prefix, 'lib') } }), 'libkvs_check');
        assert.match(r.out, /^libkvs check: \d+ checks passed\n$/);
    });

    test('the same program linked with libkvs.a runs without the shared library', T, async () => {
        const exe = path.join(tmp, 'libkvs_check_static');
        const cflags = await pkgConfig(prefix, '--cflags', 'kvs');
        const deps = await pkgConfig(prefix, '--libs', 'libcurl', 'jansson', 'libcrypto');
        const extra = (await pkgConfig(prefix, '--libs', 'kvs')).filter((f) => f.startsWith('-fsanitize') || f.startsWith('-fno-'));
        ok(await run('cc', ['-std=gnu11', '-pthread', '-o', exe, path.join(REPO, 'tests/cli/libkvs_check.c'), ...cflags, path.join(prefix, 'lib/libkvs.a'), ...deps, ...extra]), 'cc');
        assert.doesNotMatch(ok(await run('ldd', [exe])).out, /libkvs/);
        assert.match(ok(await run(exe, [uniqueName('static')], { env: env() })).out, /checks passed/);
    });

    test('the examples: put_get, list_keys over pages, copy_store keeping bytes and types', T, async () => {
        const ex = (name) => path.join(BUILD, 'examples', name);
        const store = uniqueName('ex');
        assert.equal(ok(await run(ex('put_get'), [store, 'greeting', 'hello, wörld'], { env: env() })).out, 'greeting = hello, wörld (text/plain; charset=utf-8)\n');
        const client = makeClient(server);
        const kv = client.keyValueStore(`admin~${store}`);
        const keys = Array.from({ length: 1100 }, (_, i) => `n${String(i).padStart(4, '0')}`);
        await mapLimit(keys, 16, (key, i) => kv.setRecord({ key, value: Buffer.alloc(i % 5, 1), contentType: i % 2 ? 'image/png' : 'application/x-odd' }));
        const listed = ok(await run(ex('list_keys'), [store], { env: env() })).out.trim().split('\n');
        assert.equal(listed.length, keys.length + 2);
        assert.equal(listed.at(-1), `${keys.length + 1} keys, ${keys.reduce((n, _, i) => n + (i % 5), 0) + Buffer.byteLength('hello, wörld')} bytes`);
        assert.equal(ok(await run(ex('list_keys'), [store, 'n10'], { env: env() })).out.split('\n')[0], 'n1000 0');

        const copy = uniqueName('copy');
        assert.equal(ok(await run(ex('copy_store'), [store, copy], { env: env() })).out, `copied ${keys.length + 1} records\n`);
        const dst = client.keyValueStore(`admin~${copy}`);
        for (const i of [0, 1, 2, 3, 4, 777, 1099]) {
            const rec = await dst.getRecord(keys[i], { buffer: true });
            assert.deepEqual(Buffer.from(rec.value), Buffer.alloc(i % 5, 1), keys[i]);
            assert.equal(rec.contentType, i % 2 ? 'image/png' : 'application/x-odd', keys[i]);
        }
        assert.equal((await dst.getRecord('greeting')).value, 'hello, wörld');
        const failed = await run(ex('list_keys'), ['no-such-store'], { env: env() });
        assert.equal(failed.code, 1, show(failed));
        assert.match(failed.stderr, /not found/);
        assert.equal((await run(ex('put_get'), [], { env: env() })).code, 2);
    });
});
