// web/js/sign.js, the console's URL signing, against the platform's test vectors (contract
// §4.5) and node:crypto; no browser needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { hmac62, hmacSha256, keysSignature, recordSignature, sha256 } from '../../web/js/sign.js';

const utf8 = (s) => new TextEncoder().encode(s);

test('SHA-256 and HMAC-SHA256 agree with node:crypto at every padding boundary', () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000]) {
        const msg = 'é'.repeat(n).slice(0, n) + 'x'.repeat(n % 7);
        assert.equal(Buffer.from(sha256(utf8(msg))).toString('hex'), crypto.createHash('sha256').update(msg).digest('hex'), `length ${n}`);
        const key = 'k'.repeat(n % 130);
        assert.equal(Buffer.from(hmacSha256(utf8(key), utf8(msg))).toString('hex'), crypto.createHmac('sha256', key).update(msg).digest('hex'), `key ${key.length}`);
    }
});

test('the platform\'s test vectors', () => {
    assert.equal(hmac62('hmac-secret-key', 'hmac-message-to-be-authenticated'), 'pcVagAsudj8dFqdlg7mG');
    assert.equal(hmac62('hmac-same-secret-key', 'hmac-same-message-to-be-authenticated'), 'FYMcmTIm3idXqleF1Sw5');
    assert.equal(keysSignature('hmac-secret-key', 'resource-id', 0), 'MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS');
    assert.equal(recordSignature('hmac-secret-key', 'hmac-message-to-be-authenticated'), 'pcVagAsudj8dFqdlg7mG');
});
