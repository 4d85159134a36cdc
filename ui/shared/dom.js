// Small DOM helpers the phone and desktop pages share.

/** A new element: `<tag class=cls data-testid=testid>text</tag>` (each part optional). */
export function el(tag, cls, testid, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (testid) e.setAttribute('data-testid', testid);
  if (text != null) e.textContent = text;
  return e;
}

/** Words someone wrote (a name, a chat line, a title, a note): `el` with dir="auto", so that an
 *  Arabic or Hebrew one takes its direction from its own first letter and reads right to left. */
export function said(tag, cls, testid, text) {
  const e = el(tag, cls, testid, text);
  e.dir = 'auto';
  return e;
}

/** A member's avatar hue (0–359), the same on every screen for the same id. */
export function hue(id) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) % 360;
  return h;
}

/** The avatar's letter: the name's first character (a code point, so an emoji stays whole). */
export function initial(name) {
  return (Array.from(name.trim())[0] || '?').toUpperCase();
}

/** A round trip as shown: "42 ms", or "—" when unknown. */
export const fmtMs = (ms) => (typeof ms === 'number' ? Math.round(ms) + ' ms' : '—');
