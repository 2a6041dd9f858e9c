// certs.mjs — TLS certificates made with the `openssl` command, for the HTTPS tests.
//
// makeCert() makes a self-signed certificate for 127.0.0.1 and localhost with its key, so a
// client that trusts the certificate itself (curl --cacert, NODE_EXTRA_CA_CERTS, Node's `ca`)
// can verify the server. Validity dates can be set (openssl ca -selfsign), to make expired and
// not-yet-valid certificates.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const CA_CONFIG = `[ ca ]
default_ca = selfsign
[ selfsign ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[ any ]
commonName = supplied
`;

/** openssl's date form for DATE: YYYYMMDDHHMMSSZ. */
function asn1Time(date) {
    return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Makes DIR/NAME.cert.pem and DIR/NAME.key.pem.
 *
 * options:
 *   cn        the subject's common name (default NAME)
 *   keyType   'ec' (P-256, default) or 'rsa' (2048 bits)
 *   notBefore, notAfter   Dates (default: one hour ago, two days from now)
 *
 * Returns { cert, key (paths), pem (the certificate's text), cn }.
 */
export async function makeCert(dir, name, { cn = name, keyType = 'ec', notBefore, notAfter } = {}) {
    const work = await fs.mkdtemp(path.join(dir, `${name}-`));
    const key = path.join(dir, `${name}.key.pem`);
    const cert = path.join(dir, `${name}.cert.pem`);
    const keyArgs = keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
    const csr = path.join(work, 'req.csr');
    await run('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`,
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    await fs.writeFile(path.join(work, 'ca.cnf'), CA_CONFIG);
    await fs.writeFile(path.join(work, 'index.txt'), '');
    await fs.writeFile(path.join(work, 'serial'), `01${randomBytes(8).toString('hex')}\n`);
    const from = notBefore ?? new Date(Date.now() - 3600_000);
    const until = notAfter ?? new Date(Date.now() + 2 * 86400_000);
    await run('openssl', ['ca', '-batch', '-notext', '-config', 'ca.cnf', '-selfsign', '-keyfile', key, '-in', 'req.csr',
        '-out', cert, '-startdate', asn1Time(from), '-enddate', asn1Time(until)], { cwd: work });
    await fs.rm(work, { recursive: true, force: true });
    return { cert, key, pem: await fs.readFile(cert, 'utf8'), cn };
}
