// Text the way the host counts it: in Unicode code points (Rust's `chars()`), not UTF-16 units.
// A string cut with `slice` can end in half an emoji, and an emoji counts 2 towards `maxlength`.

/** How many code points `text` has (the host's "characters"). */
export function charCount(text) {
  return Array.from(String(text)).length;
}

/** `text` cut to at most `max` code points (never inside a surrogate pair). */
export function clip(text, max) {
  const s = String(text);
  if (s.length <= max) return s; // at most `max` UTF-16 units: at most `max` code points too
  return Array.from(s).slice(0, max).join('');
}

/**
 * Holds a text input to `max` code points as the user types or pastes (the `maxlength`
 * attribute counts UTF-16 units: 32 emoji would fill a 64-character name).
 */
export function limitInput(input, max) {
  input.addEventListener('input', () => {
    const cut = clip(input.value, max);
    if (cut !== input.value) input.value = cut;
  });
}
