// The phone page's shared state and its screens: the host's /api/info and the one client of
// this page (replaced on a rejoin), read by every screen's module.

export const $ = (id) => document.getElementById(id);

/** `info`: GET /api/info; `client`: the PartylineClient, null on the join screen. */
export const page = { info: null, client: null };

const SCREENS = ['screen-loading', 'screen-join', 'screen-party', 'screen-end'];

/** Shows one screen and hides the others. */
export function show(id) {
  for (const s of SCREENS) $(s).hidden = s !== id;
  document.body.dataset.screen = id;
}
