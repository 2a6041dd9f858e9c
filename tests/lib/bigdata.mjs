// bigdata.mjs — large test values without holding them: a deterministic pseudo-random byte
// stream (AES-128-CTR over zeros) that can be generated from any 16-byte-aligned offset, so a
// test can stream gigabytes to a server, hash them on the way, and check any slice of what
// comes back against a regenerated one.
import { createCipheriv, createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';

const KEY = Buffer.from('kvstore-bigdata!');
const CHUNK = 1024 * 1024;

/** A cipher producing the stream's bytes from OFFSET (a multiple of 16) on. */
function cipherAt(seed, offset) {
    if (offset % 16 !== 0) throw new Error('offset must be a multiple of 16');
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(seed >>> 0, 0);
    iv.writeBigUInt64BE(BigInt(offset / 16), 8);
    return createCipheriv('aes-128-ctr', KEY, iv);
}

/** The LEN bytes of stream SEED at OFFSET (any offset). */
export function bytesAt(seed, offset, len) {
    const start = offset - (offset % 16);
    const c = cipherAt(seed, start);
    const out = c.update(Buffer.alloc(len + (offset - start)));
    return out.subarray(offset - start);
}

/**
 * A Readable of the first SIZE bytes of stream SEED, in chunks of 1 MiB; its SHA-256 (hex) is
 * in .sha256 once it has ended.
 */
export function bigStream(seed, size) {
    const c = cipherAt(seed, 0);
    const hash = createHash('sha256');
    const zeros = Buffer.alloc(CHUNK);
    let sent = 0;
    const stream = new Readable({
        read() {
            if (sent >= size) {
                stream.sha256 = hash.digest('hex');
                this.push(null);
                return;
            }
            const n = Math.min(CHUNK, size - sent);
            const chunk = c.update(n === CHUNK ? zeros : zeros.subarray(0, n));
            sent += n;
            hash.update(chunk);
            this.push(chunk);
        },
    });
    return stream;
}

/** The SHA-256 (hex) of the first SIZE bytes of stream SEED, computed without holding them. */
export async function bigSha256(seed, size) {
    const hash = createHash('sha256');
    for await (const chunk of bigStream(seed, size)) hash.update(chunk);
    return hash.digest('hex');
}

/** Parses "256M", "3G", "1048576" into bytes. */
export function parseSize(s) {
    const m = /^(\d+)([KMG]?)$/i.exec(String(s).trim());
    if (!m) throw new Error(`bad size ${s}`);
    const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
    return Number(m[1]) * mult;
}

/**
 * PUT the first SIZE bytes of stream SEED to path P of SERVER (a startServer() object) as they
 * are generated: with Content-Length, or chunked (withLength false). onSent(bytes) is called
 * as they go, onEnd() once the last one is written; abortAfter N breaks the upload off (the
 * client goes away) after N bytes. Resolves with { status, headers, text, sha256 } of the
 * answer, or { cut: true, sha256 } when the connection ended without one.
 */
export function putBig(server, p, seed, size, { withLength = true, headers = {}, onSent = () => {}, onEnd = () => {}, abortAfter = 0 } = {}) {
    return new Promise((resolve) => {
        const u = new URL(server.url);
        const req = http.request({
            host: u.hostname,
            port: u.port,
            method: 'PUT',
            path: p,
            agent: false,
            headers: {
                Authorization: `Bearer ${server.token}`,
                'Content-Type': 'application/octet-stream',
                ...(withLength ? { 'Content-Length': String(size) } : { 'Transfer-Encoding': 'chunked' }),
                ...headers,
            },
        });
        const body = bigStream(seed, size);
        let sent = 0;
        req.on('error', () => resolve({ cut: true, sha256: body.sha256 }));
        req.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString(), sha256: body.sha256 }));
            res.on('error', () => resolve({ cut: true, sha256: body.sha256 }));
        });
        body.on('data', (c) => {
            sent += c.length;
            if (!req.write(c)) body.pause();
            onSent(sent);
            if (abortAfter && sent >= abortAfter) {
                body.destroy();
                req.destroy();
            }
        });
        req.on('drain', () => body.resume());
        body.on('end', () => req.end(onEnd));
    });
}
