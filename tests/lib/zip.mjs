// zip.mjs — a strict reader of the ZIP archives the server streams (GET .../records), for the
// tests: it reads the central directory (with its ZIP64 records), then every local header, the
// entry's bytes and, for entries with flag bit 3, the data descriptor after them, and checks
// that the three agree on CRC-32 and sizes and that the CRC matches the bytes. Only the
// "stored" method is accepted (the server never compresses entries).

const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        t[n] = c >>> 0;
    }
    return t;
})();

/** CRC-32 (ISO-HDLC, as ZIP uses) of BUF, continuing from CRC. */
export function crc32(buf, crc = 0) {
    let c = ~crc >>> 0;
    for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
}

const u64 = (buf, at) => Number(buf.readBigUInt64LE(at));

/** The ZIP64 extra field's values in EXTRA for the fields that are 0xFFFFFFFF (in order). */
function zip64Extra(extra, wanted) {
    for (let at = 0; at + 4 <= extra.length; ) {
        const id = extra.readUInt16LE(at);
        const len = extra.readUInt16LE(at + 2);
        if (id === 1) {
            const out = [];
            for (let i = 0; i < wanted && 4 + 8 * (i + 1) <= len + 4; i++) out.push(u64(extra, at + 4 + 8 * i));
            return out;
        }
        at += 4 + len;
    }
    return [];
}

/**
 * Reads the archive in BUF. Returns [{ name, data: Buffer, flags }] in archive order; throws
 * with a reason when anything disagrees.
 */
export function readZip(buf) {
    let eocd = -1;
    for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
        if (buf.readUInt32LE(i) === 0x06054b50) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0) throw new Error('no end of central directory record');
    let entries = buf.readUInt16LE(eocd + 10);
    let cdSize = buf.readUInt32LE(eocd + 12);
    let cdStart = buf.readUInt32LE(eocd + 16);
    if (entries === 0xffff || cdSize === 0xffffffff || cdStart === 0xffffffff) {
        const loc = eocd - 20;
        if (buf.readUInt32LE(loc) !== 0x07064b50) throw new Error('no ZIP64 locator');
        const z64 = u64(buf, loc + 8);
        if (buf.readUInt32LE(z64) !== 0x06064b50) throw new Error('no ZIP64 end record');
        entries = u64(buf, z64 + 32);
        cdSize = u64(buf, z64 + 40);
        cdStart = u64(buf, z64 + 48);
    }
    const out = [];
    let at = cdStart;
    for (let i = 0; i < entries; i++) {
        if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`central record ${i}: bad signature`);
        const flags = buf.readUInt16LE(at + 8);
        const method = buf.readUInt16LE(at + 10);
        const crc = buf.readUInt32LE(at + 16);
        let csize = buf.readUInt32LE(at + 20);
        let size = buf.readUInt32LE(at + 24);
        const nameLen = buf.readUInt16LE(at + 28);
        const extraLen = buf.readUInt16LE(at + 30);
        const commentLen = buf.readUInt16LE(at + 32);
        let offset = buf.readUInt32LE(at + 42);
        const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8');
        const extra = buf.subarray(at + 46 + nameLen, at + 46 + nameLen + extraLen);
        const vals = zip64Extra(extra, 3);
        let v = 0;
        if (size === 0xffffffff) size = vals[v++];
        if (csize === 0xffffffff) csize = vals[v++];
        if (offset === 0xffffffff) offset = vals[v++];
        if (method !== 0) throw new Error(`${name}: method ${method}, not stored`);
        if (csize !== size) throw new Error(`${name}: stored sizes differ`);

        // the local header
        if (buf.readUInt32LE(offset) !== 0x04034b50) throw new Error(`${name}: bad local header`);
        const lflags = buf.readUInt16LE(offset + 6);
        if (lflags !== flags) throw new Error(`${name}: local flags ${lflags} != central ${flags}`);
        const lNameLen = buf.readUInt16LE(offset + 26);
        const lExtraLen = buf.readUInt16LE(offset + 28);
        if (buf.subarray(offset + 30, offset + 30 + lNameLen).toString('utf8') !== name) throw new Error(`${name}: local name differs`);
        const lExtra = buf.subarray(offset + 30 + lNameLen, offset + 30 + lNameLen + lExtraLen);
        const dataAt = offset + 30 + lNameLen + lExtraLen;
        const data = buf.subarray(dataAt, dataAt + size);
        if (crc32(data) !== crc) throw new Error(`${name}: CRC-32 does not match its bytes`);
        if (flags & 8) {
            // CRC and sizes follow the data; 8-byte sizes when the local header has ZIP64
            const big = zip64Extra(lExtra, 2).length > 0;
            const d = dataAt + size;
            if (buf.readUInt32LE(d) !== 0x08074b50) throw new Error(`${name}: no data descriptor`);
            const dcrc = buf.readUInt32LE(d + 4);
            const dcs = big ? u64(buf, d + 8) : buf.readUInt32LE(d + 8);
            const ds = big ? u64(buf, d + 16) : buf.readUInt32LE(d + 12);
            if (dcrc !== crc || dcs !== size || ds !== size) throw new Error(`${name}: data descriptor disagrees`);
        } else {
            if (buf.readUInt32LE(offset + 14) !== crc) throw new Error(`${name}: local CRC differs`);
            if (buf.readUInt32LE(offset + 22) !== size) throw new Error(`${name}: local size differs`);
        }
        out.push({ name, data, flags });
        at += 46 + nameLen + extraLen + commentLen;
    }
    if (at !== cdStart + cdSize) throw new Error('central directory size disagrees');
    return out;
}
