// `kvs backup` and `kvs restore`: a hot backup taken while a server runs with writes in flight
// holds every record acknowledged before the backup started, byte for byte, large records (blob
// files) too, which `kvs check` finds complete in the restored copy; a second server runs on
// the restored copy. And restore's refusals: a data directory in use, or not empty
// without --force; backup's: an OUT that is not empty.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { LMDB_ONLY } from '../lib/pg.mjs';
import { NEEDS_SPAWN, makeTempDir, ms, recordPath, request, runKvs, startServer, uniqueName } from '../lib/server.mjs';

const T = { timeout: ms(120_000) };
const out = (r) => `${r.stdout}${r.stderr}`;

describe('kvs backup and restore', { skip: NEEDS_SPAWN || LMDB_ONLY }, () => {
    test('a hot backup under writes holds every acknowledged record; a server runs on the restore', T, async () => {
        const tmp = await makeTempDir('kvs-backup-');
        const server = await startServer({ dataDir: path.join(tmp, 'data') });
        let second = null;
        try {
            const created = await request(server, { method: 'POST', path: `/v2/key-value-stores?name=${uniqueName('bk')}` });
            assert.equal(created.status, 201, created.text);
            const storeId = created.json().data.id;
            // Writers: each PUT's bytes are kept, with the time its 2xx arrived.
            const acked = new Map(); // key → { value, at }
            let stop = false;
            let seq = 0;
            const writer = async () => {
                while (!stop) {
                    const key = `k${seq++}`;
                    // every 25th a large record, held in a blob file (storage.h, "Large records")
                    const value = randomBytes(seq % 25 === 0 ? 1536 * 1024 + seq : 1 + Math.floor(Math.random() * 20_000));
                    const res = await request(server, {
                        method: 'PUT',
                        path: recordPath(storeId, key),
                        body: value,
                        headers: { 'Content-Type': 'application/octet-stream' },
                    });
                    assert.equal(res.status, 201, res.text);
                    acked.set(key, { value, at: performance.now() });
                }
            };
            const writers = Array.from({ length: 4 }, writer);
            while (acked.size < 200) await new Promise((r) => setTimeout(r, 20));

            const backupDir = path.join(tmp, 'backup');
            const started = performance.now();
            const b = await runKvs(['backup', '--data', server.dataDir, backupDir], { timeoutMs: ms(60_000) });
            assert.equal(b.code, 0, out(b));
            assert.match(b.stdout, /backup of .* written to/);
            const mustHave = [...acked.entries()].filter(([, v]) => v.at < started);
            assert.ok(mustHave.length >= 200);
            // Writes went on during the backup (it does not hold the server up).
            while (acked.size < mustHave.length + 50) await new Promise((r) => setTimeout(r, 20));
            stop = true;
            await Promise.all(writers);

            // Backup refusals: OUT not empty.
            const again = await runKvs(['backup', '--data', server.dataDir, backupDir]);
            assert.equal(again.code, 1, out(again));
            assert.match(again.stderr, /not empty/);
            // Restore refusals: the running server's directory (in use, even with --force).
            const inUse = await runKvs(['restore', '--force', '--data', server.dataDir, backupDir]);
            assert.equal(inUse.code, 1, out(inUse));
            assert.match(inUse.stderr, /in use/);

            // Restore into a new directory and run a second server on it.
            const restored = path.join(tmp, 'restored');
            const r = await runKvs(['restore', '--data', restored, backupDir], { timeoutMs: ms(60_000) });
            assert.equal(r.code, 0, out(r));
            assert.match(r.stdout, /restored/);
            // Not empty now: refused without --force, done with it (no server on it yet).
            const notEmpty = await runKvs(['restore', '--data', restored, backupDir]);
            assert.equal(notEmpty.code, 1, out(notEmpty));
            assert.match(notEmpty.stderr, /not empty.*--force/);
            const forced = await runKvs(['restore', '--force', '--data', restored, backupDir]);
            assert.equal(forced.code, 0, out(forced));

            // every large record of the copy has its blob file, and no other file is there
            const check = await runKvs(['check', '--data', restored]);
            assert.equal(check.code, 0, out(check));
            assert.match(check.stdout, /records, [1-9]\d* of them in blob files \(\d+ bytes\); 0 missing or damaged, 0 blob files that no record references/);
            second = await startServer({ dataDir: restored, token: server.token });
            for (const [key, { value }] of mustHave) {
                const res = await request(second, { path: recordPath(storeId, key) });
                assert.equal(res.status, 200, `record ${key} acknowledged before the backup`);
                assert.ok(res.body.equals(value), `record ${key}: exact bytes`);
            }
            // And the restored server takes writes.
            const put = await request(second, {
                method: 'PUT',
                path: recordPath(storeId, 'after-restore'),
                body: 'x',
                headers: { 'Content-Type': 'text/plain' },
            });
            assert.equal(put.status, 201);
            // In use by the second server now.
            const busy = await runKvs(['restore', '--force', '--data', restored, backupDir]);
            assert.equal(busy.code, 1, out(busy));
            assert.match(busy.stderr, /in use/);
        } finally {
            await second?.stop();
            await server.stop();
            await fs.rm(tmp, { recursive: true, force: true });
        }
    });

    test('restore refuses what is not a backup and usage errors', T, async () => {
        const tmp = await makeTempDir('kvs-backup-');
        try {
            const r = await runKvs(['restore', '--data', path.join(tmp, 'd'), path.join(tmp, 'nothing')]);
            assert.equal(r.code, 1, out(r));
            assert.match(r.stderr, /not a kvs backup/);
            const b = await runKvs(['backup', '--data', path.join(tmp, 'nothing'), path.join(tmp, 'o')]);
            assert.equal(b.code, 1, out(b));
            assert.match(b.stderr, /not a kvs data directory/);
            assert.equal((await runKvs(['backup', path.join(tmp, 'o')])).code, 2);
            assert.equal((await runKvs(['backup', '--force', '--data', tmp, path.join(tmp, 'o')])).code, 2);
            // A file that is not an LMDB environment fails verification and is removed.
            await fs.mkdir(path.join(tmp, 'fake'));
            await fs.writeFile(path.join(tmp, 'fake', 'data.mdb'), 'not a database');
            const v = await runKvs(['restore', '--data', path.join(tmp, 'd2'), path.join(tmp, 'fake')]);
            assert.equal(v.code, 1, out(v));
            assert.match(v.stderr, /does not open/);
            await assert.rejects(fs.stat(path.join(tmp, 'd2', 'data.mdb')));
        } finally {
            await fs.rm(tmp, { recursive: true, force: true });
        }
    });
});

describe('kvs backup and restore on PostgreSQL', () => {
    test('refuse, exit 1, pointing to pg_dump / pg_basebackup', async () => {
        for (const args of [
            ['backup', '--storage', 'postgres://kvs@db.example/kvs', 'out'],
            ['backup', '--data', 'postgresql:///kvs', 'out'],
            ['restore', '--storage', 'postgresql://db.example/kvs', 'backup'],
        ]) {
            const r = await runKvs(args);
            assert.equal(r.code, 1, out(r));
            assert.equal(r.stderr.trimEnd().split('\n').length, 1, out(r));
            assert.match(r.stderr, args[0] === 'backup' ? /pg_dump.*pg_basebackup/ : /pg_restore/, out(r));
        }
    });
});
