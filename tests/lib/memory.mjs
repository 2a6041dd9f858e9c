// memory.mjs — a server's peak resident memory, for tests that bound it (a bound on memory is a
// property, not a timing): VmHWM of /proc/PID/status, reset to the current RSS by clear_refs 5
// (proc(5)), so that a test measures what comes after.
import { readFileSync, writeFileSync } from 'node:fs';

// ASan keeps freed blocks in a quarantine (256 MiB by default), which would count as peak
// memory although nothing holds them: servers started with this env keep a small one, so the
// measure stays about live memory.
export const ASAN_ENV = { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : ''}quarantine_size_mb=8` };

/** SERVER's peak resident memory (VmHWM) since the last resetPeak(), in bytes. */
export function peakRss(server) {
    const status = readFileSync(`/proc/${server.proc.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** Resets SERVER's VmHWM to its current resident memory and returns that. */
export function resetPeak(server) {
    writeFileSync(`/proc/${server.proc.pid}/clear_refs`, '5');
    return peakRss(server);
}
