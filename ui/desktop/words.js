// What a host reads, in a host's words: the host's errors and warnings come from Rust with the
// system's wording ("Address already in use (os error 98)", "mDNS", "no LAN address found");
// the page says what happened and what to do. Pure (node tests).

/** The system's error number, which means nothing to a host: "(os error 2)". */
const OS_ERROR = /\s*\((?:os error|errno) \d+\)/gi;

/** `text` without the system's error numbers, as a sentence. */
export function plain(text) {
  const t = String(text == null ? '' : text).replace(OS_ERROR, '').trim();
  return t ? t.charAt(0).toUpperCase() + t.slice(1) : t;
}

/** Why hosting did not start, from the command error `{ code, message }`. */
export function startError(err) {
  if (!err) return '';
  if (err.code === 'bind_failed') {
    return /in use|taken|98|48|10048/i.test(err.message || '')
      ? 'That port is taken — another program (or another Partyline) is using it. Close it, then start hosting again.'
      : 'Partyline could not open its port on this computer: ' + plain(err.message);
  }
  return plain(err.message);
}

/** A warning from the host (`HostView.warnings`), in words a host acts on. */
export function warningWords(w) {
  const t = String(w || '');
  if (/^no LAN address found/i.test(t)) {
    return 'This computer is not on a network guests can reach: phones can only join once it is. ' +
      'Connect it to the Wi-Fi your guests use.';
  }
  if (/^not advertised on the LAN/i.test(t)) {
    return 'Not visible on this network: other Partyline apps will not list this party. The QR code and the room code still work.';
  }
  return plain(t);
}

/** Why the Browse tab cannot look for parties (`BrowseView.error`: discovery's "mDNS: …"), in
 *  words a host acts on; other errors keep their own words, without system numbers. */
export function browseWords(error) {
  const t = String(error || '');
  if (!t) return '';
  if (/mDNS|multicast|zeroconf|daemon/i.test(t)) {
    return 'This computer cannot look for parties on its network right now (the network may not allow it).';
  }
  return plain(t) + (/[.!?]$/.test(plain(t)) ? '' : '.');
}
