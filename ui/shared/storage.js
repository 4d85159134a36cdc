// Browser storage for the phone and desktop pages, and the device id kept in it.

/**
 * localStorage or sessionStorage (`kind`) behind get/set/del that never throw: storage can be
 * missing or refuse writes (private mode, disabled cookies), and that must not break the page;
 * values are then kept in memory for this page's life.
 */
export function store(kind) {
  let s = null;
  try {
    s = globalThis[kind];
    s.setItem('partyline.probe', '1');
    s.removeItem('partyline.probe');
  } catch (e) {
    s = null;
  }
  const mem = {};
  return {
    get: (k) => {
      try {
        return s ? s.getItem(k) : k in mem ? mem[k] : null;
      } catch (e) {
        return null;
      }
    },
    set: (k, v) => {
      try {
        if (s) s.setItem(k, v);
        else mem[k] = v;
      } catch (e) {
        mem[k] = v;
      }
    },
    del: (k) => {
      try {
        if (s) s.removeItem(k);
      } catch (e) {
        /* ignore */
      }
      delete mem[k];
    },
  };
}

/** Bytes of randomness in a device id: 96 bits, no collision among a party's phones. */
const DEVICE_ID_BYTES = 12;

/**
 * This browser's device id, `<prefix>-<24 hex digits>`, made once and kept in `storage` under
 * `key`: the host knows a returning device by it (it is not a credential).
 */
export function deviceId(storage, key, prefix) {
  let id = storage.get(key);
  if (!id) {
    const bytes = new Uint8Array(DEVICE_ID_BYTES);
    if (globalThis.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    id = prefix + '-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    storage.set(key, id);
  }
  return id;
}
