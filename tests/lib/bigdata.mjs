// bigdata.mjs — large test values without holding them: a deterministic pseudo-random byte
// stream (AES-128-CTR over zeros) that can be generated from any 16-byte-aligned offset, so a
// test can stream gigabytes to a server, hash them on the way, and check any slice of what
// comes back against a regenerated one.
import { createCipheriv, createHash } from 'node:crypto';
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
