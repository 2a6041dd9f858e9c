// preview.js — showing one record, with its bytes treated as data.
//
// The record is fetched through the API with the user's token, and shown by its content type:
//   images (PNG, JPEG, GIF, WebP, AVIF, BMP, ICO)   an <img> of a blob: URL made from the bytes
//   JSON                                            pretty-printed text
//   text, HTML, SVG, XML, CSV, JavaScript, …        the source as text, never rendered
//   PDF and other binaries                          offered as a download, with the size
// Text reaches the page only as text nodes (no markup is ever parsed from a record), and the
// page's Content-Security-Policy allows no frames and no script but the console's own: nothing
// an HTML or SVG record holds can run in the console's origin.

import { api } from './api.js';
import { formatBytes, formatNumber, h, replace } from './dom.js';
import { button, errorNotice, notice, spinner, toast } from './ui.js';

const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|avif|bmp|x-icon|vnd\.microsoft\.icon)$/;
const TEXT_TYPES = /^(text\/.*|application\/(xml|javascript|ecmascript|x-ndjson|x-yaml|yaml|toml|sql|graphql|x-sh|csv)|.*\+xml|image\/svg\+xml)$/;
const JSON_TYPES = /^application\/(.+\+)?json$/;
const TEXT_SHOWN_MAX = 2 * 1024 * 1024; // characters shown; more is cut with a note
const HIGHLIGHT_MAX = 256 * 1024; // JSON larger than this is shown without colours
const EDIT_MAX = 1024 * 1024;

/** The media type of a Content-Type value, lower case, without parameters. */
export function mediaType(contentType) {
    return (contentType || '').split(';')[0].trim().toLowerCase();
}

/** How a record of CONTENT_TYPE is shown: 'image' | 'json' | 'text' | 'pdf' | 'binary'. */
export function kindOf(contentType) {
    const t = mediaType(contentType);
    if (IMAGE_TYPES.test(t)) return 'image';
    if (JSON_TYPES.test(t)) return 'json';
    if (TEXT_TYPES.test(t)) return 'text';
    if (t === 'application/pdf') return 'pdf';
    return 'binary';
}

export function isEditable(contentType, size) {
    const k = kindOf(contentType);
    return (k === 'json' || k === 'text') && size <= EDIT_MAX;
}

function charsetOf(contentType) {
    const m = /;\s*charset="?([^";]+)"?/i.exec(contentType || '');
    return m ? m[1].trim() : 'utf-8';
}

function decodeText(buffer, contentType) {
    let decoder;
    try {
        decoder = new TextDecoder(charsetOf(contentType));
    } catch {
        decoder = new TextDecoder('utf-8');
    }
    return decoder.decode(buffer);
}

/** JSON text as a <pre> with keys, strings, numbers and literals in their own spans. */
function jsonView(text) {
    const pre = h('pre', { class: 'code json' });
    if (text.length > HIGHLIGHT_MAX) {
        pre.textContent = text;
        return pre;
    }
    const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
        if (m.index > last) pre.append(text.slice(last, m.index));
        if (m[1]) {
            pre.append(h('span', { class: m[2] ? 'j-key' : 'j-str' }, m[1]));
            if (m[2]) pre.append(m[2]);
        } else if (m[3]) pre.append(h('span', { class: 'j-lit' }, m[3]));
        else pre.append(h('span', { class: 'j-num' }, m[4]));
        last = re.lastIndex;
    }
    if (last < text.length) pre.append(text.slice(last));
    return pre;
}

let lastBlobUrl = null;

/** Forgets the blob: URL of the previous image preview. */
function releaseBlob() {
    if (lastBlobUrl) URL.revokeObjectURL(lastBlobUrl);
    lastBlobUrl = null;
}

/** Saves BYTES (a Blob) as a file NAME. A blob: URL is of the console's origin: typed as bytes,
 *  it can never be opened as a page there, whatever the bytes are (slice() relabels without a
 *  copy). */
export function downloadBlob(bytes, name) {
    const url = URL.createObjectURL(bytes.slice(0, bytes.size, 'application/octet-stream'));
    const a = h('a', { href: url, download: name, class: 'offscreen' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Downloads record KEY of STORE through the API (the token never goes into a URL). */
export async function downloadRecord(store, key) {
    try {
        const res = await api.getRecord(store.id, key);
        downloadBlob(await res.blob(), key);
    } catch (err) {
        toast(`Could not download ${key}: ${err.message}`, 'error');
    }
}

function downloadCard(title, text, size, onDownload) {
    return h(
        'div',
        { class: 'download-card' },
        h('div', { class: 'file-icon', 'aria-hidden': 'true' }),
        h('div', {}, h('h3', {}, title), h('p', { class: 'muted' }, text), h('p', {}, h('strong', {}, formatBytes(size)), ` (${formatNumber(size)} bytes)`)),
        button('Download', onDownload, { kind: 'primary' }),
    );
}

/**
 * The preview of record KEY of STORE. ITEM is its row of the key list ({size, contentType}),
 * if known. ACTIONS: download(), edit({contentType, text}) or null, remove() or null.
 */
export function previewRecord({ store, key, item, signal, actions }) {
    releaseBlob();
    const body = h('div', { class: 'preview-body' }, spinner('Loading the record…'));
    const metaEl = h('div', { class: 'preview-meta muted' }, item ? `${item.contentType ? mediaType(item.contentType) : ''} · ${formatBytes(item.size)}` : '');
    const toolsEl = h('div', { class: 'preview-tools' }, button('Download', actions.download, { kind: 'secondary' }));
    const root = h(
        'div',
        { class: 'preview' },
        h('div', { class: 'preview-head' }, h('div', { class: 'preview-title' }, h('h2', { class: 'mono' }, key), metaEl), toolsEl),
        body,
    );

    (async () => {
        let res;
        try {
            res = await api.getRecord(store.id, key, signal);
        } catch (err) {
            if (err.name === 'AbortError') return;
            replace(body, errorNotice(err.status === 404 ? Object.assign(err, { message: `There is no record “${key}” in this store (any more).` }) : err));
            return;
        }
        const contentType = res.headers.get('Content-Type') || 'application/octet-stream';
        const kind = kindOf(contentType);
        const buffer = await res.arrayBuffer();
        const size = item?.size ?? buffer.byteLength;
        replace(metaEl, `${contentType} · ${formatBytes(buffer.byteLength)}`);
        if (actions.remove) toolsEl.append(button('Delete', actions.remove, { kind: 'danger' }));

        if (kind === 'image') {
            releaseBlob();
            lastBlobUrl = URL.createObjectURL(new Blob([buffer], { type: mediaType(contentType) }));
            const img = h('img', { src: lastBlobUrl, alt: `Record ${key}`, class: 'preview-image' });
            img.addEventListener('error', () => replace(body, notice('warning', 'The browser cannot show this image: its bytes do not match its content type. Download it instead.')));
            replace(body, h('div', { class: 'image-frame' }, img));
            return;
        }
        if (kind === 'pdf') {
            replace(body, downloadCard('PDF document', 'PDF files are offered as a download, so that nothing in them runs inside the console.', size, actions.download));
            return;
        }
        if (kind === 'binary') {
            replace(body, downloadCard('Binary data', `${mediaType(contentType) || 'Unknown type'}: there is no preview for this type.`, size, actions.download));
            return;
        }
        let text = decodeText(buffer, contentType);
        const notes = [];
        if (kind === 'json') {
            try {
                text = JSON.stringify(JSON.parse(text), null, 2);
            } catch (err) {
                notes.push(notice('warning', `This record is labelled JSON but does not parse (${err.message}); shown as text.`));
            }
        } else if (/html|svg|xml/.test(mediaType(contentType))) {
            notes.push(notice('info', 'Shown as source text: the console never renders HTML, SVG or XML from a record.'));
        }
        const editable = actions.edit && isEditable(contentType, buffer.byteLength);
        if (editable) {
            const original = decodeText(buffer, contentType);
            toolsEl.insertBefore(button('Edit', () => actions.edit({ contentType, text: original }), { kind: 'secondary' }), toolsEl.lastChild);
        }
        let shown = text;
        if (text.length > TEXT_SHOWN_MAX) {
            shown = text.slice(0, TEXT_SHOWN_MAX);
            notes.push(notice('info', `Showing the first ${formatNumber(TEXT_SHOWN_MAX)} characters of ${formatNumber(text.length)}. Download the record for all of it.`));
        }
        replace(body, notes, kind === 'json' ? jsonView(shown) : h('pre', { class: 'code' }, shown));
    })();
    return root;
}
