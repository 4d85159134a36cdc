// What the phone keeps between page loads, and where.
import { store } from '../shared/storage.js';

export const KEYS = {
  device: 'partyline.deviceId', // localStorage: stable per browser
  name: 'partyline.name', // localStorage: last name used
  key: 'partyline.joinKey', // sessionStorage: the join key from the QR fragment or the room code
  resume: 'partyline.resume', // sessionStorage: { sessionId, memberId, resumeSecret }
  read: 'partyline.readNotes', // sessionStorage: { sessionId, ids } host notices already dismissed
};

export const local = store('localStorage');
export const session = store('sessionStorage');

export function readJSON(s, k) {
  try {
    return JSON.parse(s.get(k) || 'null');
  } catch (e) {
    return null;
  }
}
