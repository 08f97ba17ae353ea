//! The local SQLite database: one file, WAL mode, full fsync on commit (a saved attempt survives
//! power loss), migrations per component, each applied in its own transaction.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{Error, Result};

/// One schema change, applied once, in order.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3… within its component.
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The tables one crate owns, and how they came to be.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Unique per crate, e.g. `training`, `audit`.
    pub component: &'static str,
    pub migrations: &'static [Migration],
}

/// An open Certgate database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

/// The database file inside a data directory.
pub const FILE_NAME: &str = "certgate.db";

impl Database {
    /// Opens (creating if needed) `certgate.db` in the data directory (see [`crate::paths`]).
    pub fn open_default() -> Result<Self> {
        let dir = crate::paths::data_dir()?;
        std::fs::create_dir_all(&dir).map_err(|source| Error::CreateDir {
            path: dir.clone(),
            source,
        })?;
        Self::open(&dir.join(FILE_NAME))
    }

    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        // WAL lets the app and the CLI read while one writes; synchronous=FULL makes every
        // commit durable before it returns, which is what "saved" means to a user.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_versions (
                 component TEXT PRIMARY KEY,
                 version   INTEGER NOT NULL,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             )",
        )
        .map_err(open_err)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The version of `component` in this database (0 when never migrated).
    pub fn version(&self, component: &str) -> Result<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT version FROM schema_versions WHERE component = ?1",
                [component],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Brings `schema` up to date. Each migration runs in its own immediate transaction with
    /// its version bump, so a crash leaves the database at the last whole version. A database
    /// from a newer Certgate is refused, not overwritten.
    pub fn migrate(&mut self, schema: &Schema) -> Result<()> {
        let known = schema.migrations.last().map_or(0, |m| m.version);
        let current = self.version(schema.component)?;
        if current > known {
            return Err(Error::FutureVersion {
                path: self.path.clone(),
                component: schema.component.to_owned(),
                found: current,
                known,
            });
        }
        for migration in schema.migrations.iter().filter(|m| m.version > current) {
            let failed = |source| Error::Migration {
                component: schema.component.to_owned(),
                version: migration.version,
                name: migration.name,
                source,
            };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(failed)?;
            // Another process may have migrated while we waited for the write lock.
            let now: i64 = tx
                .query_row(
                    "SELECT COALESCE((SELECT version FROM schema_versions WHERE component = ?1), 0)",
                    [schema.component],
                    |row| row.get(0),
                )
                .map_err(failed)?;
            if now >= migration.version {
                continue;
            }
            tx.execute_batch(migration.sql).map_err(failed)?;
            tx.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
                 ON CONFLICT(component) DO UPDATE SET version = excluded.version,
                     applied_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![schema.component, migration.version],
            )
            .map_err(failed)?;
            tx.commit().map_err(failed)?;
            tracing::info!(
                component = schema.component,
                version = migration.version,
                name = migration.name,
                "migrated"
            );
        }
        Ok(())
    }

    /// `PRAGMA integrity_check` is `ok`.
    pub fn integrity_ok(&self) -> Result<bool> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        Ok(verdict == "ok")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTES_V1: Migration = Migration {
        version: 1,
        name: "notes",
        sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    };
    const NOTES_V2: Migration = Migration {
        version: 2,
        name: "note authors",
        sql: "ALTER TABLE notes ADD COLUMN author TEXT;",
    };
    const BROKEN_V3: Migration = Migration {
        version: 3,
        name: "broken",
        sql: "CREATE TABLE half (x); THIS IS NOT SQL;",
    };

    fn schema(migrations: &'static [Migration]) -> Schema {
        Schema {
            component: "notes",
            migrations,
        }
    }

    #[test]
    fn migrates_once_in_order_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut db = Database::open(&path).unwrap();
        db.migrate(&schema(&[NOTES_V1])).unwrap();
        assert_eq!(db.version("notes").unwrap(), 1);
        db.conn()
            .execute("INSERT INTO notes (body) VALUES ('kept')", [])
            .unwrap();
        drop(db);

        let mut db = Database::open(&path).unwrap();
        db.migrate(&schema(&[NOTES_V1, NOTES_V2])).unwrap();
        db.migrate(&schema(&[NOTES_V1, NOTES_V2])).unwrap();
        assert_eq!(db.version("notes").unwrap(), 2);
        let body: String = db
            .conn()
            .query_row("SELECT body FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(body, "kept", "migrations keep the data");
        let mode: String = db
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert!(db.integrity_ok().unwrap());
    }

    #[test]
    fn a_failed_migration_rolls_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(&dir.path().join("c.db")).unwrap();
        db.migrate(&schema(&[NOTES_V1, NOTES_V2])).unwrap();
        let err = db
            .migrate(&schema(&[NOTES_V1, NOTES_V2, BROKEN_V3]))
            .unwrap_err();
        assert!(matches!(err, Error::Migration { version: 3, .. }), "{err}");
        assert_eq!(db.version("notes").unwrap(), 2, "the version did not move");
        let half: i64 = db
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'half'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(half, 0, "no half-applied table remains");
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut db = Database::open(&path).unwrap();
        db.migrate(&schema(&[NOTES_V1, NOTES_V2])).unwrap();
        drop(db);
        let mut old = Database::open(&path).unwrap();
        let err = old.migrate(&schema(&[NOTES_V1])).unwrap_err();
        assert!(
            matches!(
                err,
                Error::FutureVersion {
                    found: 2,
                    known: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("update Certgate"));
        assert_eq!(old.version("notes").unwrap(), 2);
    }

    #[test]
    fn components_version_independently() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(&dir.path().join("c.db")).unwrap();
        db.migrate(&schema(&[NOTES_V1, NOTES_V2])).unwrap();
        const OTHER: &[Migration] = &[Migration {
            version: 1,
            name: "t",
            sql: "CREATE TABLE t (x);",
        }];
        db.migrate(&Schema {
            component: "other",
            migrations: OTHER,
        })
        .unwrap();
        assert_eq!(
            (db.version("notes").unwrap(), db.version("other").unwrap()),
            (2, 1)
        );
    }
}
