// A full disk and a full map: writes fail with 507 insufficient-storage and a clear message,
// nothing already stored is damaged, reads go on, and writes work again once there is room.
//
// The data directory is a small file system of its own: a 16 MiB tmpfs (or, where tmpfs cannot
// be mounted, an ext4 image on a loop device), with --map-size far above it, so that the file
// system fills before LMDB's map does. Mounting needs root; CI runs as root. Without it the test
// fails with a message saying so: it does not skip. The file system is unmounted in every case.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import {
    NEEDS_SPAWN,
    assertApiError,
    dataOf,
    makeTempDir,
    ms,
    recordPath,
    request,
    startServer,
    storePath,
    uniqueName,
} from '../lib/server.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;
const T = { timeout: ms(120_000) };
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** Runs a command; resolves { code, stdout, stderr } (never rejects for a non-zero exit). */
function run(cmd, args) {
    return new Promise((resolve) => {
        execFile(cmd, args, (err, stdout, stderr) => {
            // a command that cannot run at all has a string code (ENOENT) and no stderr
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr: stderr || (err ? err.message : '') });
        });
    });
}

async function must(cmd, args) {
    const r = await run(cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
    return r;
}

const mounted = new Set(); // mount points still to unmount, whatever happens

async function unmount(dir) {
    for (let i = 0; i < 50; i++) {
        const r = await run('umount', [dir]);
        if (r.code === 0) {
            mounted.delete(dir);
            return;
        }
        await new Promise((res) => setTimeout(res, 100)); // a process may still be closing its files
    }
    await run('umount', ['-l', dir]);
    mounted.delete(dir);
}

after(async () => {
    for (const dir of [...mounted]) await unmount(dir);
});

/**
 * Mounts a file system of SIZE_MIB MiB on a new directory: tmpfs, else an ext4 image on a loop
 * device (KVS_FULLDISK_FS=tmpfs|loop forces one). Returns { dir, kind, grow(mib), remove() }:
 * grow() gives the file system at least 32 MiB more room.
 */
async function smallFs(sizeMiB) {
    const parent = await makeTempDir('kvs-full-');
    const dir = path.join(parent, 'mnt');
    await fs.mkdir(dir);
    const want = process.env.KVS_FULLDISK_FS;
    const errors = [];
    const remove = async () => {
        await unmount(dir);
        await fs.rm(parent, { recursive: true, force: true });
    };
    if (!want || want === 'tmpfs') {
        const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'kvs-full-disk', dir]);
        if (r.code === 0) {
            mounted.add(dir);
            return {
                dir,
                kind: 'tmpfs',
                grow: (mib) => must('mount', ['-o', `remount,size=${mib}m`, dir]),
                remove,
            };
        }
        errors.push(`tmpfs: ${r.stderr.trim()}`);
    }
    if (!want || want === 'loop') {
        // An ext4 image with a ballast file taking all but SIZE_MIB of it: growing is deleting
        // the ballast (online resize2fs is not allowed everywhere, e.g. in containers).
        const img = path.join(parent, 'fs.img');
        const ballastMiB = 32;
        try {
            await must('truncate', ['-s', `${sizeMiB + ballastMiB + 4}M`, img]);
            await must('mkfs.ext4', ['-q', '-F', '-m', '0', img]); // no blocks reserved for root
            await must('mount', ['-o', 'loop', img, dir]);
            mounted.add(dir);
            await fs.chmod(dir, 0o700);
            const ballast = path.join(dir, 'ballast');
            await fs.writeFile(ballast, Buffer.alloc(ballastMiB * MiB, 1));
            return {
                dir,
                kind: 'ext4 on a loop device',
                grow: () => fs.rm(ballast),
                remove,
            };
        } catch (e) {
            errors.push(`loop: ${e.message}`);
        }
    }
    await fs.rm(parent, { recursive: true, force: true });
    throw new Error(
        `the full-disk test needs a small file system of its own and could not mount one (run it as root, as CI does): ${errors.join('; ')}`,
    );
}

/** A store and the records known to be in it: key → { sha, size, ct }. */
async function newStore(srv) {
    const data = dataOf(await request(srv, { method: 'POST', path: `/v2/key-value-stores?name=${uniqueName('full')}` }), 201);
    return { id: data.id, records: new Map() };
}

/** PUT a random value of SIZE bytes at KEY; on 201 the store's expected records follow. */
async function put(srv, st, key, size) {
    const body = randomBytes(size);
    const ct = `application/x-full-${size}`;
    const res = await request(srv, { method: 'PUT', path: recordPath(st.id, key), body, headers: { 'Content-Type': ct } });
    if (res.status === 201) st.records.set(key, { sha: sha(body), size, ct });
    return res;
}

/** Writes SIZE-byte records until one fails; returns that answer (fails the test if none does). */
async function fill(srv, st, prefix, size, max = 1000) {
    for (let i = 0; i < max; i++) {
        const res = await put(srv, st, `${prefix}${i}`, size);
        if (res.status !== 201) return res;
    }
    assert.fail(`${max} writes of ${size} bytes all succeeded: the file system never filled`);
}

/** Every expected record is there with its exact bytes and type; listing and storageBytes agree. */
async function verify(srv, st, label) {
    for (const [key, want] of st.records) {
        const res = await request(srv, { path: recordPath(st.id, key), headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(res.status, 200, `${label}: GET ${key}: ${res.text.slice(0, 200)}`);
        assert.equal(res.body.length, want.size, `${label}: ${key}: size`);
        assert.equal(sha(res.body), want.sha, `${label}: ${key}: exact bytes`);
        assert.equal(res.headers['content-type'], want.ct, `${label}: ${key}: Content-Type`);
    }
    const listed = new Map();
    let start = null;
    do {
        const q = `limit=1000${start ? `&exclusiveStartKey=${encodeURIComponent(start)}` : ''}`;
        const data = dataOf(await request(srv, { path: `${storePath(st.id)}/keys?${q}` }));
        for (const it of data.items) listed.set(it.key, it.size);
        start = data.isTruncated ? data.nextExclusiveStartKey : null;
    } while (start);
    assert.deepEqual(
        [...listed.keys()].sort(),
        [...st.records.keys()].sort(),
        `${label}: the listing holds exactly the acknowledged records`,
    );
    let bytes = 0;
    for (const [key, size] of listed) {
        assert.equal(size, st.records.get(key).size, `${label}: listed size of ${key}`);
        bytes += Buffer.byteLength(key) + size;
    }
    const stats = dataOf(await request(srv, { path: storePath(st.id) })).stats;
    assert.equal(stats.storageBytes, bytes, `${label}: storageBytes is the sum of key lengths and sizes`);
    const health = await request(srv, { path: '/health' });
    assert.equal(health.status, 200, `${label}: /health`);
}

function assertFull(res, label) {
    const err = assertApiError(res, 507, 'insufficient-storage', label);
    assert.match(err.message, /space/i, `${label}: the message says what is wrong: ${err.message}`);
}

/** N concurrent writes (new keys and overwrites of existing ones): each 201 or 507, nothing else. */
async function burst(srv, st, prefix, n, size) {
    const old = [...st.records.keys()].slice(0, Math.floor(n / 2));
    const keys = [...old, ...Array.from({ length: n - old.length }, (_, i) => `${prefix}${i}`)];
    const results = await Promise.all(keys.map((k) => put(srv, st, k, size)));
    results.forEach((r, i) => {
        if (r.status !== 201) assertFull(r, `concurrent write ${keys[i]}`);
    });
    return results.filter((r) => r.status === 507).length;
}

describe('full disk', { skip: NEEDS_SPAWN }, () => {
    test('a full file system: 507, nothing stored is damaged, reads go on, writes work again once space returns', T, async (t) => {
        const small = await smallFs(16);
        let srv = null;
        try {
            t.diagnostic(`data directory on a 16 MiB ${small.kind}`);
            const dataDir = path.join(small.dir, 'data');
            const args = ['--map-size', '256M']; // far above the file system: the disk fills first
            srv = await startServer({ dataDir, args });
            const st = await newStore(srv);

            // Fill it: the write that does not fit is refused with 507.
            const failed = await fill(srv, st, 'a', 200 * KiB);
            assertFull(failed, 'the first write that does not fit');
            t.diagnostic(`full after ${st.records.size} records of 200 KiB`);
            assert.ok(st.records.size >= 20, `a 16 MiB file system holds more than ${st.records.size} records of 200 KiB`);
            const refused = await burst(srv, st, 'b', 8, 200 * KiB);
            assert.ok(refused > 0, 'concurrent writes on a full disk are refused');
            await verify(srv, st, 'full');
            assert.doesNotMatch(srv.stderr(), / error lmdb: commit/, 'no commit failed with an I/O error');

            // A restart on the full disk: starts, serves the records, still refuses writes.
            assert.deepEqual(await srv.stop(), { code: 0, signal: null });
            srv = await startServer({ dataDir, args });
            await verify(srv, st, 'restarted on the full disk');
            assertFull(await put(srv, st, 'c0', 200 * KiB), 'a write after the restart on the full disk');

            // Deleting records makes room: deletes work on the full disk, then writes do again.
            const keys = [...st.records.keys()];
            for (const key of keys.filter((_, i) => i % 2 === 0)) {
                const res = await request(srv, { method: 'DELETE', path: recordPath(st.id, key) });
                assert.equal(res.status, 204, `DELETE ${key} on the full disk: ${res.text.slice(0, 200)}`);
                st.records.delete(key);
            }
            for (let i = 0; i < 5; i++) assert.equal((await put(srv, st, `d${i}`, 200 * KiB)).status, 201, `write d${i} after deletes`);
            await verify(srv, st, 'after deletes');

            // Full again; then the file system grows: writes work again.
            assertFull(await fill(srv, st, 'e', 200 * KiB), 'full again');
            await small.grow(64);
            t.diagnostic('the file system grew');
            for (let i = 0; i < 40; i++) assert.equal((await put(srv, st, `f${i}`, 200 * KiB)).status, 201, `write f${i} after the file system grew`);
            await verify(srv, st, 'after growing');

            // A clean stop, and everything is still there after a restart.
            assert.deepEqual(await srv.stop(), { code: 0, signal: null }, 'exit status 0 after SIGTERM');
            srv = await startServer({ dataDir, args });
            await verify(srv, st, 'after a restart');
            assert.deepEqual(await srv.stop(), { code: 0, signal: null });
            srv = null;
        } finally {
            if (srv) await srv.stop({ expectCleanExit: false, signal: 'SIGKILL' });
            await small.remove();
        }
    });

    test('a large upload on a full disk: 507 (at once when its length is announced), nothing left behind, the space back', T, async (t) => {
        const small = await smallFs(16);
        let srv = null;
        try {
            const dataDir = path.join(small.dir, 'data');
            srv = await startServer({ dataDir, args: ['--map-size', '256M'] });
            const st = await newStore(srv);
            for (let i = 0; i < 3; i++) assert.equal((await put(srv, st, `blob${i}`, 2 * MiB)).status, 201); // blob files
            for (let i = 0; i < 5; i++) assert.equal((await put(srv, st, `small${i}`, 10 * KiB)).status, 201);
            const blobs = async () => {
                let n = 0;
                for (const d of await fs.readdir(path.join(dataDir, 'blobs'))) n += (await fs.readdir(path.join(dataDir, 'blobs', d))).length;
                return n;
            };
            const free = async () => Number((await fs.statfs(small.dir)).bavail) * Number((await fs.statfs(small.dir)).bsize);
            const freeBefore = await free();
            assert.equal(await blobs(), 3);
            const big = randomBytes(32 * MiB);

            // announced: the room is set aside before any byte, so the answer can come at once
            const early = await request(srv, {
                method: 'PUT',
                path: recordPath(st.id, 'big'),
                headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(big.length), Expect: '100-continue' },
            });
            assertFull(early, 'announced too large for the disk, Expect: 100-continue');
            // announced, sent anyway: drained, then the same answer
            assertFull(await request(srv, { method: 'PUT', path: recordPath(st.id, 'big'), body: big, headers: { 'Content-Type': 'application/octet-stream' } }), 'announced');
            // chunked: the disk fills midway; drained, then 507
            assertFull(
                await request(srv, { method: 'PUT', path: recordPath(st.id, 'big'), body: big, chunked: true, chunkSize: MiB, headers: { 'Content-Type': 'application/octet-stream' } }),
                'chunked, the disk filling midway',
            );
            assert.equal((await request(srv, { path: recordPath(st.id, 'big') })).status, 404, 'nothing stored');
            assert.equal(await blobs(), 3, 'no blob file left behind');
            const freeAfter = await free();
            t.diagnostic(`free space ${(freeBefore / MiB).toFixed(1)} MiB before, ${(freeAfter / MiB).toFixed(1)} MiB after three refused uploads of 32 MiB`);
            assert.ok(freeAfter >= freeBefore - 256 * KiB, `the space came back: ${freeBefore} before, ${freeAfter} after`);
            await verify(srv, st, 'after the refused uploads');
            // and a large record that fits still goes in
            assert.equal((await put(srv, st, 'fits', 3 * MiB)).status, 201);
            await verify(srv, st, 'after one that fits');
            assert.deepEqual(await srv.stop(), { code: 0, signal: null });
            srv = null;
        } finally {
            if (srv) await srv.stop({ expectCleanExit: false, signal: 'SIGKILL' });
            await small.remove();
        }
    });

    test('a full map (--map-size small): 507, nothing stored is damaged, deletes make room again', T, async () => {
        const parent = await makeTempDir('kvs-map-');
        let srv = null;
        try {
            const dataDir = path.join(parent, 'data');
            const args = ['--map-size', '2M'];
            srv = await startServer({ dataDir, args });
            const st = await newStore(srv);
            assertFull(await fill(srv, st, 'a', 100 * KiB), 'the first write beyond the map');
            assert.ok(st.records.size >= 5, `the map held ${st.records.size} records of 100 KiB`);
            assert.ok((await burst(srv, st, 'b', 6, 100 * KiB)) > 0, 'concurrent writes on a full map are refused');
            await verify(srv, st, 'map full');
            for (const key of [...st.records.keys()].slice(0, 4)) {
                const res = await request(srv, { method: 'DELETE', path: recordPath(st.id, key) });
                assert.equal(res.status, 204, `DELETE ${key} on a full map: ${res.text.slice(0, 200)}`);
                st.records.delete(key);
            }
            for (let i = 0; i < 2; i++) assert.equal((await put(srv, st, `c${i}`, 100 * KiB)).status, 201, `write c${i} after deletes`);
            await verify(srv, st, 'after deletes');
            assert.deepEqual(await srv.stop(), { code: 0, signal: null }, 'exit status 0 after SIGTERM');
            srv = await startServer({ dataDir, args });
            await verify(srv, st, 'after a restart');
            assert.deepEqual(await srv.stop(), { code: 0, signal: null });
            srv = null;
        } finally {
            if (srv) await srv.stop({ expectCleanExit: false, signal: 'SIGKILL' });
            await fs.rm(parent, { recursive: true, force: true });
        }
    });
});
