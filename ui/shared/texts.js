// What the phone and desktop pages say about a connection and how it ended: one wording.

/** The connection pill, by `client.state.connection`. */
export const CONNECTION_TEXT = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  failed: 'Disconnected',
  ended: 'Disconnected',
};

/** An ending (`client.state.ending.kind`): its title, and the sentence under it. */
export const ENDING_TEXT = {
  kicked: { title: 'You were removed from the party', message: 'The host removed you.' },
  banned: { title: "You can't rejoin this party", message: 'The host removed this device from the party.' },
  closed: { title: 'The party is over', message: 'The host ended the party.' },
  full: { title: 'The party is full', message: "There's no room for another guest right now." },
  locked: { title: 'The host locked the party', message: "New guests can't join right now." },
  unauthorized: { title: "That link or code didn't work", message: 'The join key is wrong or out of date.' },
  replaced: { title: 'You joined from another tab', message: 'This party is open in another tab or window on this device, so this one was disconnected.' },
  not_found: { title: 'This party no longer exists', message: 'The host may have restarted it.' },
  left: { title: 'You left the party', message: 'See you next time.' },
  failed: { title: "Can't reach the host", message: "This device can't reach the party right now." },
};

/**
 * What a member's row says about their connection: nothing while they are simply here (a row
 * that says "connected" on every line says nothing), the word for a member cut off.
 */
export const MEMBER_STATUS_TEXT = { connected: '', reconnecting: 'Reconnecting…', disconnected: 'Left' };

/** A member's presence as rows say it (Here says nothing: it is the normal case). */
export const PRESENCE_TEXT = { online: '', away: 'Away', busy: 'Busy', offline: 'Appears offline' };

/** A member's connection in words; an unknown status says nothing rather than a raw word. */
export const memberStatusText = (status) => MEMBER_STATUS_TEXT[status] || '';

/**
 * Why a phone cannot play the group's media, by the element's MediaError code (2 network,
 * 3 decode, 4 not supported); the badge says "Can't play" and this.
 */
export const CANNOT_PLAY_WHY = {
  2: "the file didn't download",
  3: 'the file is damaged',
  4: "this phone can't open this kind of file",
};

/** The sync badge of a phone that cannot play: never a sync figure, and why when it is known. */
export const cannotPlayText = (code) => "Can't play" + (CANNOT_PLAY_WHY[code] ? ': ' + CANNOT_PLAY_WHY[code] : ' this file');
