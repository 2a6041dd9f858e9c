// dom.js — building the page from data, and formatting numbers, sizes and dates.
//
// Everything the console shows is built with h() from elements and text nodes: no string is
// ever parsed as markup (the page's Content-Security-Policy enforces Trusted Types, under
// which innerHTML and friends throw). So a store name, a key or a record's bytes can only ever
// be text.

/**
 * Creates element TAG with PROPS and CHILDREN.
 * props: class, text, on<Event> handlers (onclick…), dataset (object), style is not allowed
 *        (the CSP forbids inline style); any other key is set as an attribute, booleans as
 *        present/absent (disabled: true), null/undefined skipped.
 * children: nodes, strings (text), numbers, arrays (flattened), null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k === 'value') el.value = v;
        else if (k === 'checked') el.checked = Boolean(v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
}

/** Appends CHILDREN (as h() takes them) to EL. */
export function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === null || c === undefined || c === false) continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
}

/** Replaces the children of EL with CHILDREN. */
export function replace(el, ...children) {
    el.replaceChildren();
    return append(el, children);
}

let idCounter = 0;
/** A document-unique id for label/aria references. */
export function uid(prefix = 'id') {
    idCounter += 1;
    return `${prefix}-${idCounter}`;
}

const numberFormat = new Intl.NumberFormat('en-US');

/** 1234567 → "1,234,567". */
export function formatNumber(n) {
    return Number.isFinite(n) ? numberFormat.format(n) : '–';
}

/** Bytes in binary units: 0 B, 512 B, 1.5 KiB, 10 MiB. */
export function formatBytes(n) {
    if (!Number.isFinite(n)) return '–';
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i += 1;
    }
    return `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

const dateFormat = new Intl.DateTimeFormat('en-GB', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
});

/** An ISO date as "3 Nov 2026, 14:05". */
export function formatDate(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '–' : dateFormat.format(d);
}

const dayFormat = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: 'numeric' });

/** An ISO date as "3 Nov 2026". */
export function formatDay(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '–' : dayFormat.format(d);
}

/** An ISO date as "just now", "5 min ago", "3 h ago", "2 days ago", or the date. */
export function formatAgo(iso, now = Date.now()) {
    const d = new Date(iso).getTime();
    if (Number.isNaN(d)) return '–';
    const s = Math.round((now - d) / 1000);
    if (s < 45) return 'just now';
    if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    if (s < 30 * 86400) {
        const days = Math.round(s / 86400);
        return `${days} day${days === 1 ? '' : 's'} ago`;
    }
    return formatDate(iso);
}

/** A <time> element showing the relative time, with the full date as its tooltip. */
export function timeEl(iso) {
    return h('time', { datetime: iso, title: formatDate(iso) }, formatAgo(iso));
}

/** A duration in milliseconds for people: "7 days", "12 hours", "30 minutes", "90 seconds". */
export function formatDuration(ms) {
    const units = [
        [86400000, 'day'],
        [3600000, 'hour'],
        [60000, 'minute'],
        [1000, 'second'],
    ];
    for (const [size, name] of units) {
        if (ms >= size && ms % size === 0) {
            const n = ms / size;
            return `${formatNumber(n)} ${name}${n === 1 ? '' : 's'}`;
        }
    }
    for (const [size, name] of units) {
        if (ms >= size) {
            const n = Math.round((ms / size) * 10) / 10;
            return `${n} ${name}s`;
        }
    }
    return `${formatNumber(ms)} ms`;
}
