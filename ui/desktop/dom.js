// Small DOM helpers the desktop page's modules share.

/** A new element: `<tag class=cls data-testid=testid>text</tag>` (each part optional). */
export function el(tag, cls, testid, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (testid) e.setAttribute('data-testid', testid);
  if (text != null) e.textContent = text;
  return e;
}
