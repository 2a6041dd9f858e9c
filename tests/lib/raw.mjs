// Raw HTTP over node:net, for requests no HTTP client would send (malformed, trickled, huge).
import net from 'node:net';

/**
 * Opens a connection to SERVER (from startServer()), writes CHUNKS (a string/Buffer, or an
 * array written DELAY_MS apart), and collects what comes back until the server closes the
 * connection, a complete response is in (when untilResponse), or timeoutMs passes.
 *
 * Resolves with { text, status (of the first response, or 0), closed (by the server),
 * reset (ECONNRESET/EPIPE seen), ms (time until the end) }.
 */
export function rawExchange(server, chunks, { delayMs = 0, timeoutMs = 5000, untilResponse = false } = {}) {
    const list = Array.isArray(chunks) ? chunks : [chunks];
    const t0 = Date.now();
    return new Promise((resolve) => {
        const sock = net.connect(server.port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        let done = false;
        let reset = false;
        let closed = false;
        const timers = [];
        const finish = () => {
            if (done) return;
            done = true;
            timers.forEach(clearTimeout);
            sock.destroy();
            const text = buf.toString('latin1');
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
            resolve({ text, status: m ? Number(m[1]) : 0, closed, reset, ms: Date.now() - t0 });
        };
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            if (untilResponse && responseComplete(buf)) finish();
        });
        sock.on('error', (e) => {
            if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
        });
        sock.on('close', () => {
            closed = true;
            finish();
        });
        timers.push(setTimeout(finish, timeoutMs));
        list.forEach((c, i) => {
            timers.push(
                setTimeout(() => {
                    if (!done && !sock.destroyed) sock.write(c);
                }, i * delayMs),
            );
        });
    });
}

/** Whether BUF holds one whole response with a Content-Length (or none and no body). */
function responseComplete(buf) {
    const s = buf.toString('latin1');
    const end = s.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const m = /\r\ncontent-length: *(\d+)/i.exec(s.slice(0, end));
    return buf.length >= end + 4 + (m ? Number(m[1]) : 0);
}

/** The JSON body of the first response in TEXT (from rawExchange), or null. */
export function rawJson(text) {
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return null;
    try {
        const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
        const body = m ? text.slice(end + 4, end + 4 + Number(m[1])) : text.slice(end + 4);
        return JSON.parse(body);
    } catch {
        return null;
    }
}

/** The value of header NAME in the first response in TEXT, or undefined. */
export function rawHeader(text, name) {
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    const re = new RegExp(`\\r\\n${name}: *([^\\r]*)`, 'i');
    const m = re.exec(head);
    return m ? m[1] : undefined;
}
