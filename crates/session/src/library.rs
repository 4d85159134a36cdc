//! The shared library as members reach it: every item, in the host's order, with the pages a
//! member reads it by (`library.update`'s first page, `library.query`'s answers).
//!
//! A library may hold thousands of items; no message carries them all. A page holds at most
//! [`LIBRARY_PAGE_ITEMS`] items and [`LIBRARY_PAGE_BYTES`] of them as JSON, so its size is
//! bounded whatever the titles and paths. A search keeps the items whose title, artist or album
//! hold every word of the query (case and accents as typed are folded by Unicode's lowercase);
//! its cost is one pass over lowercase keys made once per library, a few ms for 10,000 items.

use std::collections::HashMap;

use partyline_protocol::{LIBRARY_PAGE_BYTES, LIBRARY_PAGE_ITEMS, LibraryItem};

/// The shared items, searchable, with a revision that changes with them.
#[derive(Debug, Clone, Default)]
pub struct Library {
    items: Vec<LibraryItem>,
    /// Per item, its title, artist and album in lowercase, for search.
    keys: Vec<String>,
    by_id: HashMap<String, usize>,
    revision: u64,
}

/// One page of the library (or of a search of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many items match in all.
    pub total: usize,
    /// The page's items, in the library's order.
    pub items: Vec<LibraryItem>,
}

impl Library {
    /// Every item, in the host's order.
    pub fn items(&self) -> &[LibraryItem] {
        &self.items
    }

    /// Counts the changes: every [`Library::set`] makes a new revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether an item with this id is shared.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The item with this id, if it is shared.
    pub fn get(&self, id: &str) -> Option<&LibraryItem> {
        self.by_id.get(id).map(|&at| &self.items[at])
    }

    /// Replaces the items (a new revision). An id listed twice keeps its first item.
    pub fn set(&mut self, items: Vec<LibraryItem>) {
        let mut by_id = HashMap::with_capacity(items.len());
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            if by_id.contains_key(&item.id) {
                continue;
            }
            by_id.insert(item.id.clone(), kept.len());
            kept.push(item);
        }
        self.keys = kept.iter().map(search_key).collect();
        self.items = kept;
        self.by_id = by_id;
        self.revision += 1;
    }

    /// The items that match `q` (none or blank: all), from `offset`, at most `limit` (and
    /// [`LIBRARY_PAGE_ITEMS`]), cut before the item that would pass [`LIBRARY_PAGE_BYTES`] (a
    /// page past the end is empty; a page with room for none holds one).
    pub fn page(&self, q: Option<&str>, offset: usize, limit: Option<usize>) -> Page {
        let words: Vec<String> =
            q.map(|q| q.to_lowercase().split_whitespace().map(str::to_string).collect()).unwrap_or_default();
        let limit = limit.unwrap_or(LIBRARY_PAGE_ITEMS).clamp(1, LIBRARY_PAGE_ITEMS);
        let matching = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, key)| words.iter().all(|word| key.contains(word.as_str())))
            .map(|(at, _)| at);
        let mut total = 0;
        let mut chosen = Vec::new();
        for at in matching {
            if total >= offset && chosen.len() < limit {
                chosen.push(at);
            }
            total += 1;
        }
        Page { total, items: self.within_budget(chosen) }
    }

    /// The shared items among `ids`, in the library's order (each once; unknown ids left out),
    /// within the page's bounds.
    pub fn by_ids(&self, ids: &[String]) -> Page {
        let mut found: Vec<usize> = ids.iter().filter_map(|id| self.by_id.get(id).copied()).collect();
        found.sort_unstable();
        found.dedup();
        found.truncate(LIBRARY_PAGE_ITEMS);
        Page { total: found.len(), items: self.within_budget(found) }
    }

    /// The items at `indices`, stopping before the one that would take the page past
    /// [`LIBRARY_PAGE_BYTES`] (the first is always kept: one item is within a message's size).
    fn within_budget(&self, indices: Vec<usize>) -> Vec<LibraryItem> {
        let mut bytes = 0;
        let mut items = Vec::with_capacity(indices.len());
        for at in indices {
            let item = &self.items[at];
            // Each item's JSON plus its comma; measured, not estimated, so the bound holds.
            let size = serde_json::to_vec(item).map_or(usize::MAX, |json| json.len()) + 1;
            if !items.is_empty() && bytes + size > LIBRARY_PAGE_BYTES {
                break;
            }
            bytes += size;
            items.push(item.clone());
        }
        items
    }
}

/// An item's title, artist and album, lowercase, one per line (so a word never spans two).
fn search_key(item: &LibraryItem) -> String {
    let mut key = item.title.to_lowercase();
    for part in [&item.artist, &item.album].into_iter().flatten() {
        key.push('\n');
        key.push_str(&part.to_lowercase());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize, artist: Option<&str>) -> LibraryItem {
        LibraryItem {
            id: format!("t-{n}"),
            title: format!("Song {n:04}"),
            mime: "audio/mpeg".into(),
            url: format!("/media/Song%20{n:04}.mp3"),
            size: 1000,
            artist: artist.map(str::to_string),
            ..LibraryItem::default()
        }
    }

    fn library(n: usize) -> Library {
        let mut library = Library::default();
        library.set((0..n).map(|i| item(i, (i == 1234).then_some("ABBA"))).collect());
        library
    }

    /// Paging from 0 by the pages' own lengths reaches every item once, in order.
    #[test]
    fn pages_reach_every_item() {
        let library = library(2000);
        let mut seen = Vec::new();
        loop {
            let page = library.page(None, seen.len(), None);
            assert_eq!(page.total, 2000, "the total is the library's");
            if page.items.is_empty() {
                break;
            }
            assert!(page.items.len() <= LIBRARY_PAGE_ITEMS, "at most {LIBRARY_PAGE_ITEMS}, got {}", page.items.len());
            seen.extend(page.items.into_iter().map(|i| i.id));
        }
        let expected: Vec<String> = (0..2000).map(|n| format!("t-{n}")).collect();
        assert_eq!(seen, expected);
    }

    /// A search needs every word, in any case, in the title, artist or album; its total counts
    /// the matches, not the library.
    #[test]
    fn search_by_words() {
        let library = library(2000);
        let by_title = library.page(Some("song 1234"), 0, None);
        assert_eq!((by_title.total, by_title.items[0].id.as_str()), (1, "t-1234"));
        let by_artist = library.page(Some("  abba "), 0, None);
        assert_eq!(by_artist.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["t-1234"]);
        assert_eq!(library.page(Some("abba 1235"), 0, None).total, 0, "every word must match");
        let words = library.page(Some("SONG 19"), 0, Some(30));
        let with_19 = (0..2000).filter(|n| format!("{n:04}").contains("19")).count();
        assert_eq!((words.total, words.items.len()), (with_19, 30), "\"song\" and \"19\" anywhere, 30 of them");
        assert_eq!(library.page(Some(""), 0, None).total, 2000, "a blank search is the whole library");
        assert_eq!(library.page(None, 5000, None), Page { total: 2000, items: vec![] }, "past the end");
    }

    /// However long the items, a page stays within its byte budget (and holds at least one).
    #[test]
    fn pages_are_bounded_in_bytes() {
        let mut library = Library::default();
        let long = |n: usize| LibraryItem {
            title: "é".repeat(200) + &n.to_string(),
            url: "/media/".to_string() + &"%C3%A9".repeat(600),
            ..item(n, Some(&"x".repeat(200)))
        };
        library.set((0..300).map(long).collect());
        let page = library.page(None, 0, None);
        let size = serde_json::to_vec(&page.items).unwrap().len();
        assert!(size <= LIBRARY_PAGE_BYTES, "a page of {size} bytes; the bound is {LIBRARY_PAGE_BYTES}");
        assert!(
            page.items.len() > 1 && page.items.len() < LIBRARY_PAGE_ITEMS,
            "cut by bytes: {} items",
            page.items.len()
        );
        let next = library.page(None, page.items.len(), None);
        assert_eq!(next.items[0].id, format!("t-{}", page.items.len()), "the next page starts where this one stopped");
    }

    /// Ids find their items in the library's order, once each, and unknown ones are left out; a
    /// new set is a new revision, and a repeated id keeps its first item.
    #[test]
    fn ids_and_revisions() {
        let mut library = library(10);
        let ids: Vec<String> = ["t-7", "t-2", "nope", "t-7"].map(String::from).to_vec();
        let found = library.by_ids(&ids);
        assert_eq!(found.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["t-2", "t-7"]);
        assert_eq!(found.total, 2);
        let before = library.revision();
        library.set(vec![item(1, None), LibraryItem { title: "Again".into(), ..item(1, None) }]);
        assert_eq!(library.revision(), before + 1);
        assert_eq!(library.items().len(), 1);
        assert_eq!(library.get("t-1").map(|i| i.title.as_str()), Some("Song 0001"));
        assert!(!library.contains("t-2"));
    }
}
