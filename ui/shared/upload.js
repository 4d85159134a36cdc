// A guest's upload of a song or a photo (docs/protocol.md, Uploads): the file's bytes to
// POST /api/uploads over XMLHttpRequest (fetch reports no upload progress), with their sha256 as
// X-Checksum where the browser has SubtleCrypto (a secure context: not the party's plain http),
// and the outcome in the guest's words. DOM-free: XMLHttpRequest and SubtleCrypto are injected.

export const UPLOAD_PATH = '/api/uploads';

/** `"sha256:<hex>"` of an ArrayBuffer, by `subtle` (SubtleCrypto). */
export async function checksumOf(buffer, subtle) {
  const d = new Uint8Array(await subtle.digest('SHA-256', buffer));
  return 'sha256:' + Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** /api/info's `uploads` as `{ allowed, maxFileBytes }` (none: not allowed). */
export function uploadPolicy(info) {
  const u = (info && info.uploads) || {};
  const max = Number(u.max_file_bytes);
  return { allowed: u.allowed === true, maxFileBytes: max > 0 ? max : null };
}

/** "840 KB", "2.5 MB", "50 MB" (in MiB, as the host counts). */
export function fmtBytes(n) {
  const mb = n / 1048576;
  return mb < 1 ? Math.max(1, Math.round(n / 1024)) + ' KB' : (mb < 10 ? Math.round(mb * 10) / 10 : Math.round(mb)) + ' MB';
}

/** Why the page will not send `file`, or null. */
export function refuseBeforeSending(file, policy) {
  if (!policy.allowed) return "The host isn't taking songs or photos.";
  if (!file || !file.size) return 'That file is empty.';
  if (policy.maxFileBytes && file.size > policy.maxFileBytes) {
    return 'That file is ' + fmtBytes(file.size) + ': the host takes files up to ' + fmtBytes(policy.maxFileBytes) + '.';
  }
  return null;
}

/** The host's answer `{ status, body }` in the guest's words. */
export function outcomeText(r) {
  const b = r.body || {};
  if (r.status === 201) return b.kind === 'photo' ? 'Photo shared with everyone.' : '“' + (b.name || 'Your song') + '” is in the library.';
  if (r.status === 0) return 'The upload stopped before it finished: nothing was added. Try again.';
  // The host's words as a sentence, without checksums (nothing a guest can act on).
  let words = String(b.error || '').replace(/\s*\([^)]*sha256:[^)]*\)/g, '').trim();
  if (words && !/[.!?]$/.test(words)) words += '.';
  if (r.status === 413 && b.limit_bytes > 0 && !/\d/.test(words)) {
    return (words ? words.slice(0, -1) + ': ' : 'Too big: ') + 'it keeps up to ' + fmtBytes(b.limit_bytes) + '.';
  }
  return words || 'The host could not take it (error ' + r.status + ').';
}

/**
 * Hashes (with `o.subtle`) then sends `file`. `o`: deviceId, key (null on an open host),
 * XMLHttpRequest, subtle (null: no checksum), onPhase('checking' | 'sending', 0–1). Returns `{ cancel(), done }`; `done`
 * resolves `{ status, body, cancelled }` (status 0: no answer) and never rejects.
 */
export function startUpload(file, o) {
  let xhr = null;
  let cancelled = false;
  let finish;
  const done = new Promise((res) => {
    finish = (status, body) => res({ status, body, cancelled });
  });
  const phase = o.onPhase || (() => {});
  (async () => {
    let sum = null;
    if (o.subtle) {
      phase('checking', 0);
      try {
        sum = await checksumOf(await file.arrayBuffer(), o.subtle);
      } catch (e) {
        /* unreadable here: the host still checks what it gets */
      }
      if (cancelled) return;
    }
    xhr = new o.XMLHttpRequest();
    xhr.open('POST', UPLOAD_PATH + '?device=' + encodeURIComponent(o.deviceId) + '&name=' + encodeURIComponent(file.name || 'file'));
    if (o.key) xhr.setRequestHeader('Authorization', 'Bearer ' + o.key);
    if (sum) xhr.setRequestHeader('X-Checksum', sum);
    xhr.upload.onprogress = (e) => e.lengthComputable && e.total > 0 && phase('sending', e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (e) {
        /* not JSON */
      }
      finish(xhr.status, body);
    };
    xhr.onerror = xhr.onabort = xhr.ontimeout = () => finish(0, null);
    phase('sending', 0);
    xhr.send(file);
  })();
  return {
    done,
    cancel() {
      cancelled = true;
      if (xhr) xhr.abort();
      finish(0, null); // at once, even while hashing
    },
  };
}
