//! The party's store: one SQLite file (rusqlite, WAL), a table per kind of record, written by
//! the session task in one transaction per pass, before that pass's messages go out.
//!
//! What the session journals ([`Durable`]) is applied row by row: a member, a chat line, a ban
//! is an upsert or a delete by its key, never a blob rewritten whole. A pass's changes are one
//! transaction, so a crash at any instant leaves the party as it was after some whole pass. The
//! host's own facts (the join key and room code, retired keys, the port, the media folder, the
//! uploads folder, when the store was last written) are rows of `meta`, and the guests' uploads
//! (songs and photos: what each file is, whose, its size and checksum) rows of `uploads`, written
//! by the upload path before the party hears of the file.
//!
//! Schema versions: a file of version 1 (before direct messages, held messages and uploads were
//! kept) or 2 (before a member away kept its notification mark, and an upload its file's
//! modification time) is brought up to this one at open, in place: its new tables are made,
//! `members` gains `direct_mark` and `notification_mark`, `uploads` gains `modified`. Nothing of
//! it is lost or rewritten.
//!
//! Durability: WAL with `synchronous = NORMAL`. A commit is in the WAL file when it returns, so
//! a killed or crashed host loses nothing it committed; an operating-system crash or a power cut
//! may lose the last commits before a checkpoint, never consistency. `FULL` would add an fsync
//! to every pass, that is to every chat line.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use partyline_protocol::{DirectLine, Frame, ServerMessage, Wire};
use partyline_session::{Ban, ChatLine, Durable, KeptDirect, MemberRecord, PartyRecord, PlayRecord, Record, Time};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::auth::Keys;

/// The schema's version, in `meta`: a file written by a later, different schema is refused
/// rather than misread.
const SCHEMA_VERSION: &str = "3";

/// The earlier versions this host brings up to [`SCHEMA_VERSION`] at open.
const MIGRATES: &[&str] = &["1", "2"];

/// Frames held per away seed-001 member: the session's own bound.
const HELD_MESSAGES: i64 = partyline_session::member::HELD_MESSAGES as i64;

/// Host notifications the store keeps: the session's own bound.
const KEPT_NOTIFICATIONS: i64 = partyline_session::session::KEPT_NOTIFICATIONS as i64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS party (
    one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL, name TEXT NOT NULL, host_id TEXT NOT NULL,
    host_name TEXT NOT NULL, max_members INTEGER NOT NULL, locked INTEGER NOT NULL, started_ms INTEGER NOT NULL,
    next_chat INTEGER NOT NULL, next_notification INTEGER NOT NULL, next_guest INTEGER NOT NULL,
    next_key INTEGER NOT NULL, rooms TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    key INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, device_id TEXT NOT NULL,
    joined_at_ms INTEGER NOT NULL, addr TEXT NOT NULL, device TEXT, wire INTEGER NOT NULL, secret TEXT,
    presence TEXT NOT NULL, presence_text TEXT, topics TEXT NOT NULL, read TEXT NOT NULL, taken TEXT NOT NULL,
    chat_mark INTEGER, direct_mark INTEGER, notification_mark INTEGER);
CREATE TABLE IF NOT EXISTS chat (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL, room TEXT NOT NULL, sender TEXT NOT NULL, name TEXT NOT NULL,
    text TEXT NOT NULL, created_at INTEGER NOT NULL, edited_at INTEGER, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS notifications (n INTEGER PRIMARY KEY, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bans (device_id TEXT PRIMARY KEY, name TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS play (
    one INTEGER PRIMARY KEY CHECK (one = 1), state TEXT NOT NULL, queue TEXT NOT NULL, current INTEGER,
    position REAL NOT NULL, anchor INTEGER NOT NULL, rate REAL NOT NULL, revision INTEGER NOT NULL,
    next_entry INTEGER NOT NULL, permissions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directs (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL, payload TEXT NOT NULL,
    timestamp INTEGER NOT NULL, from_ord INTEGER NOT NULL, to_ord INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    n INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL, binary INTEGER NOT NULL, data BLOB NOT NULL,
    expires INTEGER);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, mime TEXT NOT NULL,
    size INTEGER NOT NULL, checksum TEXT NOT NULL, sender TEXT NOT NULL, sender_name TEXT NOT NULL,
    at INTEGER NOT NULL, modified INTEGER);
";

/// Columns an earlier file's tables lack, added at open: (table, column, type). Version 1 lacks
/// the first, version 2 the others (its uploads then have no `modified`: each is hashed at its
/// next start, as before).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("members", "direct_mark", "INTEGER"),
    ("members", "notification_mark", "INTEGER"),
    ("uploads", "modified", "INTEGER"),
];

/// How long opening waits for a party file another process holds: a host that was just killed
/// has released it already, so this is only ever a second host on the same party.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// A busy or locked file is another host's; anything else is what SQLite says.
fn in_use(path: &Path, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::InUse { path: path.into() }
        }
        _ => StoreError::Sqlite { path: path.into(), source },
    }
}

/// What can go wrong with the party's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (the file cannot be opened or written: no permission, a full disk, not a
    /// database).
    #[error("the party file {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// Another host is running on this party file.
    #[error("another host is running this party ({path}): stop it, or use another --party-file")]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// The file's folder cannot be made.
    #[error("cannot make the folder of the party file {path}: {source}")]
    Folder {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A row does not read back as what was written (another program's file, a later schema).
    #[error("the party file {path} is not one this host can read: {what}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// The store as the session task and the handle share it; `None` once shutdown has let the file go.
pub(crate) type SharedStore = std::sync::Arc<std::sync::Mutex<Option<Store>>>;

/// What a store holds of a party, read at start.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The party.
    pub record: Record,
    /// Its keys.
    pub keys: Keys,
    /// The port it was on (0 when never bound).
    pub port: u16,
    /// The folder it shared.
    pub media: Option<PathBuf>,
    /// The folder the guests' uploads are in.
    pub uploads_dir: Option<PathBuf>,
    /// The guests' uploads, in the order they came.
    pub uploads: Vec<StoredUpload>,
}

/// A guest's upload as the store keeps it: enough to check its file and give it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// Its id, `u-` and 16 hex digits.
    pub id: String,
    /// `song` or `photo`.
    pub kind: String,
    /// Its label (the sanitised name).
    pub name: String,
    /// Its file, under the uploads folder (`guests/<id>.<ext>`).
    pub file: String,
    /// Its MIME type.
    pub mime: String,
    /// Bytes.
    pub size: u64,
    /// `sha256:<hex>` of its bytes.
    pub checksum: String,
    /// The sharer's member id.
    pub from: String,
    /// The sharer's name then.
    pub from_name: String,
    /// When it was shared, ms.
    pub at: u64,
    /// Its file's modification time when it was kept, ns since the Unix epoch: a file that is
    /// still that size with that time is taken back at start without reading it (a checksum of
    /// a gigabyte of uploads would keep phones waiting); `None`: read and checked.
    pub modified: Option<i64>,
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the party file at `path`, with its folder, and checks that it can be
    /// written: a read-only file is an error here, not at the first chat line.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder { path: path.into(), source })?;
        }
        let sqlite = |source| StoreError::Sqlite { path: path.into(), source };
        let conn = Connection::open(path).map_err(sqlite)?;
        // One host per party: the first write takes the file's lock until the process ends (or
        // dies: the system releases it), so a second host on the same file is refused at start
        // instead of both writing one party.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(sqlite)?;
        conn.busy_timeout(BUSY_WAIT).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|source| in_use(path, source))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
        conn.execute_batch(SCHEMA).map_err(|source| in_use(path, source))?;
        let mut store = Store { conn, path: path.into() };
        match store.meta("schema")? {
            Some(version) if version != SCHEMA_VERSION && !MIGRATES.contains(&version.as_str()) => {
                return Err(store.unreadable(format!("schema version {version}, this host writes {SCHEMA_VERSION}")));
            }
            Some(version) if version != SCHEMA_VERSION => {
                store.migrate()?;
                tracing::info!(path = %path.display(), from = %version, to = SCHEMA_VERSION, "the party file's schema brought up to date");
                store.set_meta(&[("schema", Some(SCHEMA_VERSION.to_string()))])?;
            }
            // Written even when present: this is the write check.
            _ => store.set_meta(&[("schema", Some(SCHEMA_VERSION.to_string()))]).map_err(|err| match err {
                StoreError::Sqlite { path, source } => in_use(&path, source),
                other => other,
            })?,
        }
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Brings an earlier version's tables up to this one: the columns they lack (the new tables
    /// are made by [`SCHEMA`] already).
    fn migrate(&mut self) -> Result<(), StoreError> {
        for (table, column, kind) in ADDED_COLUMNS {
            let has = self
                .conn
                .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")
                .and_then(|mut statement| statement.exists([table, column]))
                .map_err(|source| self.sqlite(source))?;
            if !has {
                self.conn
                    .execute(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"), [])
                    .map_err(|source| self.sqlite(source))?;
            }
        }
        Ok(())
    }

    /// The party the file holds, if any.
    pub fn load(&self) -> Result<Option<Stored>, StoreError> {
        let Some(party) = self.party()? else { return Ok(None) };
        let mut members = self.members()?;
        for (key, frame, expires) in self.held()? {
            if let Some(member) = members.iter_mut().find(|member| member.key == key) {
                member.held.push((frame, expires));
            }
        }
        let record = Record {
            party,
            members,
            chat: self.chat(false)?.into_iter().map(|(_, line)| line).collect(),
            deleted: self.chat(true)?.into_iter().map(|(n, _)| n).collect(),
            notifications: self.notifications()?,
            bans: self.bans()?,
            directs: self.directs()?,
            play: self.play()?,
            saved_at: self.meta("saved_at")?.and_then(|at| at.parse().ok()).unwrap_or(0),
        };
        let retired: Vec<String> = match self.meta("retired_keys")? {
            Some(json) => self.json(&json)?,
            None => Vec::new(),
        };
        let keys = Keys::restored(self.meta("join_key")?, self.meta("room_code")?, retired);
        let port = self.meta("port")?.and_then(|port| port.parse().ok()).unwrap_or(0);
        let media = self.meta("media")?.map(PathBuf::from);
        let uploads_dir = self.meta("uploads_dir")?.map(PathBuf::from);
        Ok(Some(Stored { record, keys, port, media, uploads_dir, uploads: self.uploads()? }))
    }

    /// Writes a whole party in one transaction, replacing whatever party the file held: at start,
    /// and after a failed commit (whose pass is then not in the file).
    pub fn write_all(&mut self, record: &Record) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sqlite)?;
        clear(&tx).map_err(sqlite)?;
        put_party(&tx, &record.party).map_err(sqlite)?;
        for member in &record.members {
            put_member(&tx, member).map_err(sqlite)?;
            for (frame, expires) in &member.held {
                put_held(&tx, member.key, frame, *expires).map_err(sqlite)?;
            }
        }
        for kept in &record.directs {
            put_direct(&tx, kept).map_err(sqlite)?;
        }
        for line in &record.chat {
            put_line(&tx, line).map_err(sqlite)?;
        }
        for n in &record.deleted {
            tx.execute(
                "INSERT OR REPLACE INTO chat (n, id, room, sender, name, text, created_at, deleted)
                 VALUES (?1, ?2, '', '', '', '', 0, 1)",
                params![*n as i64, format!("c-{n}")],
            )
            .map_err(sqlite)?;
        }
        for message in &record.notifications {
            put_notification(&tx, message).map_err(sqlite)?;
        }
        for ban in &record.bans {
            put_ban(&tx, ban).map_err(sqlite)?;
        }
        put_play(&tx, &record.play).map_err(sqlite)?;
        put_meta(&tx, "saved_at", Some(record.saved_at.to_string())).map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    /// Applies one pass's changes, in order, in one transaction, and notes `now` as the last
    /// moment the party was known alive.
    pub fn commit(&mut self, changes: &[Durable], now: Time) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sqlite)?;
        for change in changes {
            apply(&tx, change).map_err(sqlite)?;
        }
        put_meta(&tx, "saved_at", Some(now.to_string())).map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    /// Stores the host's keys (at start, and after "New key").
    pub fn set_keys(&mut self, keys: &Keys) -> Result<(), StoreError> {
        let retired = serde_json::to_string(&keys.retired()).expect("strings serialize");
        self.set_meta(&[
            ("join_key", keys.join_key.clone()),
            ("room_code", keys.room_code.clone()),
            ("retired_keys", Some(retired)),
        ])
    }

    /// Stores the port the party is on.
    pub fn set_port(&mut self, port: u16) -> Result<(), StoreError> {
        self.set_meta(&[("port", Some(port.to_string()))])
    }

    /// Stores the folder the party shares (or none).
    pub fn set_media(&mut self, media: Option<&Path>) -> Result<(), StoreError> {
        self.set_meta(&[("media", media.map(|dir| dir.to_string_lossy().into_owned()))])
    }

    /// Stores the folder the guests' uploads go to.
    pub fn set_uploads_dir(&mut self, dir: &Path) -> Result<(), StoreError> {
        self.set_meta(&[("uploads_dir", Some(dir.to_string_lossy().into_owned()))])
    }

    /// Keeps a guest's upload (its file is in place): before the party hears of it.
    pub fn add_upload(&mut self, upload: &StoredUpload) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO uploads (id, kind, name, file, mime, size, checksum, sender, sender_name, at,
                     modified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    upload.id,
                    upload.kind,
                    upload.name,
                    upload.file,
                    upload.mime,
                    upload.size as i64,
                    upload.checksum,
                    upload.from,
                    upload.from_name,
                    upload.at as i64,
                    upload.modified,
                ],
            )
            .map(drop)
            .map_err(|source| self.sqlite(source))
    }

    /// Forgets an upload (its file is gone or not what was kept).
    pub fn remove_upload(&mut self, id: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM uploads WHERE id = ?1", [id]).map(drop).map_err(|source| self.sqlite(source))
    }

    /// Ends the stored party for good: every row goes, keys and port with it; the next start
    /// makes a new party.
    pub fn end_party(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sqlite)?;
        clear(&tx).map_err(sqlite)?;
        tx.execute("DELETE FROM uploads", []).map_err(sqlite)?;
        tx.execute("DELETE FROM meta WHERE key <> 'schema'", []).map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    /// Caps the file at its size now (a full disk, for the tests), or lifts the cap (`false`).
    #[cfg(test)]
    pub(crate) fn fill_disk(&self, full: bool) {
        let pages: i64 = if full {
            self.conn.query_row("PRAGMA page_count", [], |row| row.get(0)).unwrap()
        } else {
            i64::from(u32::MAX)
        };
        self.conn.pragma_update(None, "max_page_count", pages).unwrap();
    }

    fn set_meta(&mut self, entries: &[(&str, Option<String>)]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sqlite)?;
        for (key, value) in entries {
            put_meta(&tx, key, value.clone()).map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0))
            .optional()
            .map_err(|source| self.sqlite(source))
    }

    fn party(&self) -> Result<Option<PartyRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, name, host_id, host_name, max_members, locked, started_ms, next_chat,
                        next_notification, next_guest, next_key, rooms FROM party WHERE one = 1",
                [],
                |row| {
                    Ok((
                        PartyRecord {
                            id: row.get(0)?,
                            name: row.get(1)?,
                            host_id: row.get(2)?,
                            host_name: row.get(3)?,
                            max_members: row.get(4)?,
                            locked: row.get(5)?,
                            started_ms: row.get::<_, i64>(6)? as u64,
                            next_chat: row.get::<_, i64>(7)? as u64,
                            next_notification: row.get::<_, i64>(8)? as u64,
                            next_guest: row.get::<_, i64>(9)? as u64,
                            next_key: row.get::<_, i64>(10)? as u64,
                            rooms: Vec::new(),
                        },
                        row.get::<_, String>(11)?,
                    ))
                },
            )
            .optional()
            .map_err(|source| self.sqlite(source))?;
        let Some((mut party, rooms)) = row else { return Ok(None) };
        party.rooms = self.json(&rooms)?;
        Ok(Some(party))
    }

    fn members(&self) -> Result<Vec<MemberRecord>, StoreError> {
        type Row = (i64, String, String, String, i64, String, Option<String>, i64, Option<String>);
        type Json = (String, Option<String>, String, String, String, Option<i64>, Option<i64>, Option<i64>);
        let rows: Vec<(Row, Json)> = self.rows(
            "SELECT key, id, name, device_id, joined_at_ms, addr, device, wire, secret, presence,
                        presence_text, topics, read, taken, chat_mark, direct_mark, notification_mark FROM members
                 ORDER BY key",
            [],
            |row| {
                Ok((
                    (
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(8)?,
                    ),
                    (
                        row.get(9)?,
                        row.get(10)?,
                        row.get(11)?,
                        row.get(12)?,
                        row.get(13)?,
                        row.get(14)?,
                        row.get(15)?,
                        row.get(16)?,
                    ),
                ))
            },
        )?;
        rows.into_iter()
            .map(|((key, id, name, device_id, joined_at_ms, addr, device, wire, secret), json)| {
                let (presence, presence_text, topics, read, taken, chat_mark, direct_mark, notification_mark) = json;
                let addr: IpAddr =
                    addr.parse().map_err(|_| self.unreadable(format!("member {id}'s address {addr}")))?;
                let wire = usize::try_from(wire)
                    .ok()
                    .and_then(|wire| Wire::ALL.get(wire).copied())
                    .ok_or_else(|| self.unreadable(format!("member {id}'s wire {wire}")))?;
                Ok(MemberRecord {
                    key: key as u64,
                    id,
                    name,
                    device_id,
                    joined_at_ms: joined_at_ms as u64,
                    addr,
                    device,
                    wire,
                    secret,
                    presence: self.json(&presence)?,
                    presence_text,
                    topics: self.json(&topics)?,
                    read: self.json(&read)?,
                    taken: self.json(&taken)?,
                    chat_mark: chat_mark.map(|mark| mark as u64),
                    direct_mark: direct_mark.map(|mark| mark as u64),
                    notification_mark: notification_mark.map(|mark| mark as u64),
                    held: Vec::new(),
                })
            })
            .collect()
    }

    /// Every row `sql` selects with `params`, each made by `row`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut statement = self.conn.prepare(sql).map_err(|source| self.sqlite(source))?;
        statement.query_map(params, row).and_then(|rows| rows.collect()).map_err(|source| self.sqlite(source))
    }

    /// The kept lines (or, `deleted`, the deleted numbers' tombstones), oldest first.
    fn chat(&self, deleted: bool) -> Result<Vec<(u64, ChatLine)>, StoreError> {
        self.rows(
            "SELECT n, id, room, sender, name, text, created_at, edited_at FROM chat
                 WHERE deleted = ?1 ORDER BY n",
            [deleted],
            |row| {
                Ok((
                    row.get::<_, i64>(0)? as u64,
                    ChatLine {
                        id: row.get(1)?,
                        room: row.get(2)?,
                        from: row.get(3)?,
                        name: row.get(4)?,
                        text: row.get(5)?,
                        created_at: row.get::<_, i64>(6)? as u64,
                        edited_at: row.get::<_, Option<i64>>(7)?.map(|at| at as u64),
                    },
                ))
            },
        )
    }

    /// The kept direct messages, oldest first.
    fn directs(&self) -> Result<Vec<KeptDirect>, StoreError> {
        type Row = (i64, String, String, String, String, i64, i64, i64);
        let rows: Vec<Row> = self.rows(
            "SELECT n, id, sender, recipient, payload, timestamp, from_ord, to_ord FROM directs ORDER BY n",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(|(n, id, from, to, payload, timestamp, from_ord, to_ord)| {
                Ok(KeptDirect {
                    n: n as u64,
                    line: DirectLine { id, from, to, payload: self.json(&payload)?, timestamp: timestamp as u64 },
                    from_ord: from_ord as u64,
                    to_ord: to_ord as u64,
                })
            })
            .collect()
    }

    /// What is held for away members: (key, frame, expires), oldest first.
    fn held(&self) -> Result<Vec<(u64, Frame, Option<Time>)>, StoreError> {
        let rows: Vec<(i64, bool, Vec<u8>, Option<i64>)> =
            self.rows("SELECT key, binary, data, expires FROM held ORDER BY n", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
        rows.into_iter()
            .map(|(key, binary, data, expires)| {
                let frame = if binary {
                    Frame::binary(data.into())
                } else {
                    Frame::text(String::from_utf8(data).map_err(|_| self.unreadable("a held frame's text".into()))?)
                };
                Ok((key as u64, frame, expires.map(|at| at as u64)))
            })
            .collect()
    }

    /// The guests' uploads, in the order they came.
    fn uploads(&self) -> Result<Vec<StoredUpload>, StoreError> {
        self.rows(
            "SELECT id, kind, name, file, mime, size, checksum, sender, sender_name, at, modified FROM uploads
                 ORDER BY at, rowid",
            [],
            |row| {
                Ok(StoredUpload {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    name: row.get(2)?,
                    file: row.get(3)?,
                    mime: row.get(4)?,
                    size: row.get::<_, i64>(5)? as u64,
                    checksum: row.get(6)?,
                    from: row.get(7)?,
                    from_name: row.get(8)?,
                    at: row.get::<_, i64>(9)? as u64,
                    modified: row.get(10)?,
                })
            },
        )
    }

    fn notifications(&self) -> Result<Vec<ServerMessage>, StoreError> {
        let rows: Vec<String> = self.rows("SELECT message FROM notifications ORDER BY n", [], |row| row.get(0))?;
        rows.iter().map(|json| self.json(json)).collect()
    }

    fn bans(&self) -> Result<Vec<Ban>, StoreError> {
        self.rows("SELECT device_id, name, reason, at FROM bans ORDER BY at, device_id", [], |row| {
            Ok(Ban { device_id: row.get(0)?, name: row.get(1)?, reason: row.get(2)?, at: row.get::<_, i64>(3)? as u64 })
        })
    }

    fn play(&self) -> Result<PlayRecord, StoreError> {
        type Row = (String, String, Option<i64>, f64, i64, f64, i64, i64, String);
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT state, queue, current, position, anchor, rate, revision, next_entry, permissions
                 FROM play WHERE one = 1",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(8)?,
                    ))
                },
            )
            .optional()
            .map_err(|source| self.sqlite(source))?;
        let Some((state, queue, current, position, anchor, rate, revision, next_entry, permissions)) = row else {
            return Ok(partyline_session::SyncPlay::default().record());
        };
        Ok(PlayRecord {
            state: self.json(&state)?,
            queue: self.json(&queue)?,
            current: current.map(|current| current as usize),
            position,
            anchor: anchor as u64,
            rate,
            revision: revision as u64,
            next_entry: next_entry as u64,
            permissions: self.json(&permissions)?,
        })
    }

    fn json<T: serde::de::DeserializeOwned>(&self, text: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|err| self.unreadable(format!("{err} in {text:.80}")))
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn unreadable(&self, what: String) -> StoreError {
        StoreError::Unreadable { path: self.path.clone(), what }
    }
}

/// Every party row (not `meta`).
fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DELETE FROM party; DELETE FROM members; DELETE FROM chat; DELETE FROM notifications;
         DELETE FROM bans; DELETE FROM play; DELETE FROM directs; DELETE FROM held;",
    )
}

fn apply(tx: &Transaction, change: &Durable) -> rusqlite::Result<()> {
    match change {
        Durable::Party(party) => put_party(tx, party),
        Durable::Member(member) => put_member(tx, member),
        Durable::MemberGone(key) => {
            execute(tx, "DELETE FROM members WHERE key = ?1", [*key as i64])?;
            execute(tx, "DELETE FROM held WHERE key = ?1", [*key as i64]).map(drop)
        }
        Durable::Chat(line) => put_line(tx, line),
        Durable::ChatGone { id, deleted: true } => {
            execute(tx, "UPDATE chat SET text = '', deleted = 1 WHERE n = ?1", [line_number(id)]).map(drop)
        }
        // Dropped for room: it was the oldest, so tombstones older than it go too.
        Durable::ChatGone { id, deleted: false } => {
            execute(tx, "DELETE FROM chat WHERE n <= ?1", [line_number(id)]).map(drop)
        }
        Durable::Notification(message) => put_notification(tx, message),
        Durable::Ban(ban) => put_ban(tx, ban),
        Durable::Unban(device) => execute(tx, "DELETE FROM bans WHERE device_id = ?1", [device]).map(drop),
        Durable::Play(play) => put_play(tx, play),
        Durable::Direct(kept) => put_direct(tx, kept),
        Durable::DirectGone(n) => execute(tx, "DELETE FROM directs WHERE n = ?1", [*n as i64]).map(drop),
        Durable::Held { key, frame, expires } => put_held(tx, *key, frame, *expires),
        Durable::HeldSent(key) => execute(tx, "DELETE FROM held WHERE key = ?1", [*key as i64]).map(drop),
    }
}

fn put_direct(tx: &Transaction, kept: &KeptDirect) -> rusqlite::Result<()> {
    let line = &kept.line;
    execute(
        tx,
        "INSERT OR REPLACE INTO directs (n, id, sender, recipient, payload, timestamp, from_ord, to_ord)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            kept.n as i64,
            line.id,
            line.from,
            line.to,
            to_json(&line.payload),
            line.timestamp as i64,
            kept.from_ord as i64,
            kept.to_ord as i64,
        ],
    )
    .map(drop)
}

/// Holds a frame for an away member, keeping its newest [`HELD_MESSAGES`] (as the session does).
fn put_held(tx: &Transaction, key: u64, frame: &Frame, expires: Option<Time>) -> rusqlite::Result<()> {
    let key = key as i64;
    execute(
        tx,
        "INSERT INTO held (key, binary, data, expires) VALUES (?1, ?2, ?3, ?4)",
        params![key, frame.is_binary(), frame.bytes().as_ref(), expires.map(|at| at as i64)],
    )?;
    execute(
        tx,
        "DELETE FROM held WHERE key = ?1 AND n NOT IN (SELECT n FROM held WHERE key = ?1 ORDER BY n DESC LIMIT ?2)",
        params![key, HELD_MESSAGES],
    )
    .map(drop)
}

/// Runs a statement through the connection's cache of prepared statements: a pass runs the
/// same few statements every time, and preparing each anew cost more than running it.
fn execute(tx: &Transaction, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

fn line_number(id: &str) -> i64 {
    partyline_session::chat::number(id) as i64
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("a record serializes")
}

fn put_meta(tx: &Transaction, key: &str, value: Option<String>) -> rusqlite::Result<()> {
    match value {
        Some(value) => execute(tx, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, value]),
        None => execute(tx, "DELETE FROM meta WHERE key = ?1", [key]),
    }
    .map(drop)
}

fn put_party(tx: &Transaction, party: &PartyRecord) -> rusqlite::Result<()> {
    execute(
        tx,
        "INSERT OR REPLACE INTO party (one, id, name, host_id, host_name, max_members, locked, started_ms,
             next_chat, next_notification, next_guest, next_key, rooms)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            party.id,
            party.name,
            party.host_id,
            party.host_name,
            party.max_members,
            party.locked,
            party.started_ms as i64,
            party.next_chat as i64,
            party.next_notification as i64,
            party.next_guest as i64,
            party.next_key as i64,
            to_json(&party.rooms),
        ],
    )
    .map(drop)
}

fn put_member(tx: &Transaction, member: &MemberRecord) -> rusqlite::Result<()> {
    execute(
        tx,
        "INSERT OR REPLACE INTO members (key, id, name, device_id, joined_at_ms, addr, device, wire, secret,
             presence, presence_text, topics, read, taken, chat_mark, direct_mark, notification_mark)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            member.key as i64,
            member.id,
            member.name,
            member.device_id,
            member.joined_at_ms as i64,
            member.addr.to_string(),
            member.device,
            member.wire.index() as i64,
            member.secret,
            to_json(&member.presence),
            member.presence_text,
            to_json(&member.topics),
            to_json(&member.read),
            to_json(&member.taken),
            member.chat_mark.map(|mark| mark as i64),
            member.direct_mark.map(|mark| mark as i64),
            member.notification_mark.map(|mark| mark as i64),
        ],
    )
    .map(drop)
}

fn put_line(tx: &Transaction, line: &ChatLine) -> rusqlite::Result<()> {
    execute(
        tx,
        "INSERT OR REPLACE INTO chat (n, id, room, sender, name, text, created_at, edited_at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
        params![
            line_number(&line.id),
            line.id,
            line.room,
            line.from,
            line.name,
            line.text,
            line.created_at as i64,
            line.edited_at.map(|at| at as i64),
        ],
    )
    .map(drop)
}

fn put_notification(tx: &Transaction, message: &ServerMessage) -> rusqlite::Result<()> {
    let ServerMessage::Notification { id, .. } = message else { return Ok(()) };
    let n = id.strip_prefix("n-").and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
    execute(tx, "INSERT OR REPLACE INTO notifications (n, message) VALUES (?1, ?2)", params![n, to_json(message)])?;
    execute(tx, "DELETE FROM notifications WHERE n <= ?1", [n - KEPT_NOTIFICATIONS]).map(drop)
}

fn put_ban(tx: &Transaction, ban: &Ban) -> rusqlite::Result<()> {
    execute(
        tx,
        "INSERT OR REPLACE INTO bans (device_id, name, reason, at) VALUES (?1, ?2, ?3, ?4)",
        params![ban.device_id, ban.name, ban.reason, ban.at as i64],
    )
    .map(drop)
}

fn put_play(tx: &Transaction, play: &PlayRecord) -> rusqlite::Result<()> {
    execute(
        tx,
        "INSERT OR REPLACE INTO play (one, state, queue, current, position, anchor, rate, revision, next_entry,
             permissions)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            to_json(&play.state),
            to_json(&play.queue),
            play.current.map(|current| current as i64),
            play.position,
            play.anchor as i64,
            play.rate,
            play.revision as i64,
            play.next_entry as i64,
            to_json(&play.permissions),
        ],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    //! The store keeps what it is given: a whole party written reads back the same, a pass's
    //! changes apply in order by key, and a file it cannot use is a clear error at open.
    use super::*;
    use partyline_protocol::{GroupState, NotificationLevel, Permissions, PresenceStatus, QueueEntry, Room, RoomKind};

    fn party() -> Record {
        let line = |n: u64, text: &str| ChatLine {
            id: format!("c-{n}"),
            room: "general".into(),
            from: "m-1".into(),
            name: "Sara".into(),
            text: text.into(),
            created_at: 1_000 + n,
            edited_at: (n == 2).then_some(2_000),
        };
        Record {
            party: PartyRecord {
                id: "k7m2qx".into(),
                name: "Rooftop".into(),
                host_id: "host-1".into(),
                host_name: "Laptop".into(),
                max_members: 40,
                locked: true,
                started_ms: 1_000,
                next_chat: 3,
                next_notification: 1,
                next_guest: 2,
                next_key: 5,
                rooms: vec![Room { id: "general".into(), name: "General".into(), kind: RoomKind::Text }],
            },
            members: vec![MemberRecord {
                key: 4,
                id: "m-1".into(),
                name: "Sara".into(),
                device_id: "dev-1".into(),
                joined_at_ms: 1_500,
                addr: "127.0.0.1".parse().unwrap(),
                device: Some("iPhone".into()),
                wire: Wire::Partyline,
                secret: Some("f3a9".into()),
                presence: PresenceStatus::Away,
                presence_text: Some("back in 5".into()),
                topics: vec!["lobby".into()],
                read: vec!["n-1".into()],
                taken: vec![(u64::MAX, true), (7, false)],
                chat_mark: Some(2),
                direct_mark: Some(1),
                notification_mark: Some(1),
                held: vec![
                    (Frame::text(r#"{"type":"DirectMessage","data":{"n":1}}"#.into()), Some(9_000)),
                    (Frame::binary(vec![2, 0, 1, 7].into()), None),
                ],
            }],
            chat: vec![line(1, "hi"), line(2, "edited")],
            deleted: vec![3],
            notifications: vec![ServerMessage::Notification {
                timestamp: 1,
                id: "n-1".into(),
                title: "Pizza".into(),
                body: String::new(),
                level: NotificationLevel::Info,
                from: "host-1".into(),
                name: "Laptop".into(),
                read: None,
                actions: vec![partyline_protocol::NotificationAction {
                    label: "Menu".into(),
                    url: "https://example.org/menu".into(),
                }],
            }],
            bans: vec![Ban { device_id: "dev-9".into(), name: "Troll".into(), reason: "rude".into(), at: 1_700 }],
            directs: vec![KeptDirect {
                n: 3,
                line: DirectLine {
                    id: "dm-1".into(),
                    from: "m-2".into(),
                    to: "m-1".into(),
                    payload: serde_json::json!({"text": "psst"}),
                    timestamp: 1_600,
                },
                from_ord: 5,
                to_ord: 2,
            }],
            play: PlayRecord {
                state: GroupState::Paused,
                queue: vec![QueueEntry { entry_id: "q-1".into(), item_id: "t-1".into() }],
                current: Some(0),
                position: 1234.5,
                anchor: 99,
                rate: 1.25,
                revision: 7,
                next_entry: 1,
                permissions: Permissions { playback: true, queue: false },
            },
            saved_at: 123_456,
        }
    }

    fn file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("party.db");
        (dir, path)
    }

    /// A whole party written reads back field for field, with the host's keys, port and folder.
    #[test]
    fn a_party_reads_back_as_written() {
        let (_dir, path) = file();
        let mut store = Store::open(&path).unwrap();
        assert!(store.load().unwrap().is_none(), "a new file holds no party");
        store.write_all(&party()).unwrap();
        let mut keys = Keys::new(Some("old-key".into()), Some("ABCDE".into()));
        keys.rotate("new-key".into(), "FGHJK".into());
        store.set_keys(&keys).unwrap();
        store.set_port(48321).unwrap();
        store.set_media(Some(Path::new("/music"))).unwrap();
        drop(store);
        let stored = Store::open(&path).unwrap().load().unwrap().expect("a party");
        assert_eq!(stored.record, party(), "read back (left) against written (right)");
        let keys = (stored.keys.join_key.clone(), stored.keys.room_code.clone(), stored.keys.retired());
        assert_eq!(keys, (Some("new-key".into()), Some("FGHJK".into()), vec!["old-key".to_string()]));
        assert_eq!((stored.port, stored.media), (48321, Some(PathBuf::from("/music"))));
    }

    /// A pass's changes apply in order, by key: a line then its deletion leaves a tombstone, a
    /// line dropped for room takes older tombstones with it, a member gone is gone, an unban
    /// lifts the ban; `saved_at` moves.
    #[test]
    fn changes_apply_in_order() {
        let (_dir, path) = file();
        let mut store = Store::open(&path).unwrap();
        store.write_all(&party()).unwrap();
        let mut line = party().chat[0].clone();
        line.id = "c-4".into();
        let mut direct = party().directs[0].clone();
        direct.n = 4;
        let held = (Frame::text("{}".into()), None);
        let mut changes = vec![
            Durable::Chat(line.clone()),
            Durable::ChatGone { id: "c-4".into(), deleted: true },
            Durable::ChatGone { id: "c-1".into(), deleted: false },
            Durable::Direct(direct.clone()),
            Durable::DirectGone(3),
            Durable::HeldSent(4),
        ];
        let over = HELD_MESSAGES as usize + 3;
        changes.extend((0..over).map(|_| Durable::Held { key: 4, frame: held.0.clone(), expires: held.1 }));
        store.commit(&changes, 100_000).unwrap();
        let record = store.load().unwrap().expect("a party").record;
        assert_eq!(record.directs, vec![direct], "a direct message in, one gone");
        assert_eq!(record.members[0].held.len(), HELD_MESSAGES as usize, "held, the newest {HELD_MESSAGES} kept");
        let changes = [Durable::MemberGone(4), Durable::Unban("dev-9".into())];
        store.commit(&changes, 200_000).unwrap();
        let held_rows: i64 = store.conn.query_row("SELECT count(*) FROM held", [], |row| row.get(0)).unwrap();
        assert_eq!(held_rows, 0, "a member gone takes what was held for it");
        let record = store.load().unwrap().expect("a party").record;
        let ids: Vec<&str> = record.chat.iter().map(|line| line.id.as_str()).collect();
        assert_eq!(ids, ["c-2"], "c-1 dropped for room");
        assert_eq!(record.deleted, [3, 4], "both deletions are remembered");
        assert!(record.members.is_empty() && record.bans.is_empty(), "{record:?}");
        assert_eq!(record.saved_at, 200_000);
        store.commit(&[Durable::ChatGone { id: "c-3".into(), deleted: false }], 1).unwrap();
        assert_eq!(store.load().unwrap().unwrap().record.deleted, [4], "a tombstone older than a dropped line goes");
    }

    /// The tables and rows as main's version-1 host wrote them (its `SCHEMA` and a party of one
    /// member, one line), for the migration test.
    const VERSION_1: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE party (
            one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL, name TEXT NOT NULL, host_id TEXT NOT NULL,
            host_name TEXT NOT NULL, max_members INTEGER NOT NULL, locked INTEGER NOT NULL, started_ms INTEGER NOT NULL,
            next_chat INTEGER NOT NULL, next_notification INTEGER NOT NULL, next_guest INTEGER NOT NULL,
            next_key INTEGER NOT NULL, rooms TEXT NOT NULL);
        CREATE TABLE members (
            key INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, device_id TEXT NOT NULL,
            joined_at_ms INTEGER NOT NULL, addr TEXT NOT NULL, device TEXT, wire INTEGER NOT NULL, secret TEXT,
            presence TEXT NOT NULL, presence_text TEXT, topics TEXT NOT NULL, read TEXT NOT NULL, taken TEXT NOT NULL,
            chat_mark INTEGER);
        CREATE TABLE chat (
            n INTEGER PRIMARY KEY, id TEXT NOT NULL, room TEXT NOT NULL, sender TEXT NOT NULL, name TEXT NOT NULL,
            text TEXT NOT NULL, created_at INTEGER NOT NULL, edited_at INTEGER, deleted INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE notifications (n INTEGER PRIMARY KEY, message TEXT NOT NULL);
        CREATE TABLE bans (device_id TEXT PRIMARY KEY, name TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
        CREATE TABLE play (
            one INTEGER PRIMARY KEY CHECK (one = 1), state TEXT NOT NULL, queue TEXT NOT NULL, current INTEGER,
            position REAL NOT NULL, anchor INTEGER NOT NULL, rate REAL NOT NULL, revision INTEGER NOT NULL,
            next_entry INTEGER NOT NULL, permissions TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1'), ('join_key', 'old-key'), ('port', '4000'), ('saved_at', '77');
        INSERT INTO party VALUES (1, 'k7m2qx', 'Rooftop', 'host-1', 'Laptop', 40, 0, 1000, 1, 0, 1, 1,
            '[{\"id\":\"general\",\"name\":\"General\",\"kind\":\"text\"}]');
        INSERT INTO members VALUES (0, 'm-1', 'Sara', 'dev-1', 1500, '127.0.0.1', NULL, 1, 'f3a9', '\"online\"',
            NULL, '[]', '[]', '[]', 1);
        INSERT INTO chat VALUES (1, 'c-1', 'general', 'm-1', 'Sara', 'hi', 1001, NULL, 0);
    ";

    /// A file main's version-1 host wrote opens: its party reads back whole (no direct messages
    /// yet, no marks), it is brought to this version in place, and takes the new rows.
    #[test]
    fn a_version_1_file_is_brought_up_to_date() {
        let (_dir, path) = file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(VERSION_1).unwrap();
        drop(conn);
        let mut store = Store::open(&path).expect("a version-1 file opens");
        let stored = store.load().unwrap().expect("its party");
        let member = &stored.record.members[0];
        assert_eq!(
            (member.id.as_str(), member.chat_mark, member.direct_mark, member.notification_mark),
            ("m-1", Some(1), None, None)
        );
        assert_eq!(stored.record.chat.len(), 1, "its chat");
        assert!(stored.record.directs.is_empty() && stored.uploads.is_empty(), "nothing new in it yet");
        assert_eq!((stored.keys.join_key.as_deref(), stored.port), (Some("old-key"), 4000));
        let mut direct = party().directs[0].clone();
        direct.line.to = "m-1".into();
        let marked = MemberRecord { direct_mark: Some(0), notification_mark: Some(0), ..member.clone() };
        store.commit(&[Durable::Direct(direct.clone()), Durable::Member(marked)], 1).unwrap();
        drop(store);
        let store = Store::open(&path).expect("opens again");
        assert_eq!(store.meta("schema").unwrap().as_deref(), Some(SCHEMA_VERSION), "now this version");
        let record = store.load().unwrap().unwrap().record;
        assert_eq!(
            (record.directs, record.members[0].direct_mark, record.members[0].notification_mark),
            (vec![direct], Some(0), Some(0))
        );
    }

    /// A second store on a file another one holds is refused (one host per party), and the
    /// file is free again once the first is gone.
    #[test]
    fn one_host_per_party_file() {
        let (_dir, path) = file();
        let first = Store::open(&path).unwrap();
        let err = Store::open(&path).expect_err("the file is held");
        assert!(matches!(err, StoreError::InUse { .. }), "expected InUse, got {err}");
        drop(first);
        Store::open(&path).expect("free again");
    }

    /// Ending the party empties the file: the next load finds none.
    #[test]
    fn ending_the_party_empties_the_file() {
        let (_dir, path) = file();
        let mut store = Store::open(&path).unwrap();
        store.write_all(&party()).unwrap();
        store.set_port(4000).unwrap();
        store.end_party().unwrap();
        assert!(store.load().unwrap().is_none(), "no party after end_party");
    }

    /// A file that is not a database, a folder that cannot be made and a later schema are each
    /// an error naming the file, never a panic.
    #[test]
    fn unusable_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x55u8; 8192]).unwrap();
        let err = Store::open(&garbage).expect_err("not a database");
        assert!(matches!(err, StoreError::Sqlite { .. }) && err.to_string().contains("garbage.db"), "{err}");
        let blocked = garbage.join("party.db"); // its "folder" is a file
        let err = Store::open(&blocked).expect_err("no folder");
        assert!(matches!(err, StoreError::Folder { .. }), "{err}");
        let later = dir.path().join("later.db");
        drop(Store::open(&later).unwrap());
        let conn = Connection::open(&later).unwrap();
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'", []).unwrap();
        drop(conn);
        let err = Store::open(&later).expect_err("a later schema");
        assert!(matches!(err, StoreError::Unreadable { .. }) && err.to_string().contains("99"), "{err}");
    }
}
