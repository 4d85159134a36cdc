// What the phone keeps between page loads, and where.
import { store } from '../shared/storage.js';

export const KEYS = {
  device: 'partyline.deviceId', // localStorage: stable per browser
  name: 'partyline.name', // localStorage: last name used
  key: 'partyline.joinKey', // sessionStorage: the join key from the QR fragment or the room code
  resume: 'partyline.resume', // sessionStorage: { sessionId, memberId, resumeSecret }
  info: 'partyline.info', // sessionStorage: the last GET /api/info (a reload resumes on it at once)
  read: 'partyline.readNotes', // sessionStorage: { sessionId, ids } host notices already dismissed
  seen: 'partyline.chatSeen', // sessionStorage: { sessionId, at } the newest chat line seen (server ms)
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
