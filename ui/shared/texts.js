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
  closed: { title: 'The party is over', message: 'The host ended the party.' },
  full: { title: 'The party is full', message: "There's no room for another guest right now." },
  locked: { title: 'The host locked the party', message: "New guests can't join right now." },
  unauthorized: { title: "That link or code didn't work", message: 'The join key is wrong or out of date.' },
  replaced: { title: 'You joined from another tab', message: 'This party is open in another tab or window on this device, so this one was disconnected.' },
  not_found: { title: 'This party no longer exists', message: 'The host may have restarted it.' },
  left: { title: 'You left the party', message: 'See you next time.' },
  failed: { title: "Can't reach the host", message: "This device can't reach the party right now." },
};
