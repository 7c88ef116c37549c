/* store/sqlite/schema.cc: the two files' schemas and the rows file's
 * migrations (user_version).
 *
 * Rows file, version 3: `messages` with an INTEGER PRIMARY KEY `id` (a
 * rowid alias: VACUUM keeps it, so the indexer's mark stays meaningful) and
 * a unique index on message_id, plus `meta` (this file's random identity
 * and a deletion epoch). Nothing derived lives here any more: versions 1-2
 * kept indexes, aggregates and the trigram index in this file, maintained
 * inside the acknowledging transaction; version 3 drops them and the
 * indexer rebuilds them in the index file. */
#include <stdio.h>

#include "sq.h"

static const char rows_v3[] =
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL,"
    "  from_msisdn TEXT NOT NULL,"
    "  to_msisdn TEXT NOT NULL,"
    "  ts TEXT NOT NULL," /* exactly as received */
    "  text TEXT,"
    "  created_at TEXT NOT NULL," /* server time, ISO-8601 UTC */
    "  ts_key TEXT NOT NULL"      /* chronological sort key of ts */
    ");";

/* Shared tail of a fresh v3 and of the migration to it. rows_id lets the
 * index file notice it belongs to another rows file (a restored backup);
 * the epoch moves when an operator deletes rows, which makes the indexer
 * rebuild (rows are otherwise immutable). */
static const char rows_v3_rest[] =
    "CREATE UNIQUE INDEX messages_message_id ON messages(message_id);"
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('rows_id', lower(hex(randomblob(16)))), ('epoch', 0);"
    "CREATE TRIGGER messages_au BEFORE UPDATE ON messages BEGIN"
    "  SELECT RAISE(ABORT, 'messages are immutable');"
    "END;"
    "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN"
    "  UPDATE meta SET v = v + 1 WHERE k = 'epoch';"
    "END;"
    "PRAGMA user_version=3;";

/* From version 1 or 2: drop everything derived, copy the rows into the v3
 * table keeping their rowids as ids, build the unique index once at the end
 * (a sort, much faster than a million ordered inserts). */
static const char rows_v2_to_v3[] =
    "DROP TRIGGER IF EXISTS messages_ad;"
    "DROP TRIGGER IF EXISTS messages_au;"
    "DROP TABLE IF EXISTS messages_fts;"
    "DROP TABLE IF EXISTS totals;"
    "DROP TABLE IF EXISTS sender_counts;"
    "DROP TABLE IF EXISTS ts_hours;"
    "DROP INDEX IF EXISTS messages_ts;"
    "DROP INDEX IF EXISTS messages_from;"
    "ALTER TABLE messages RENAME TO messages_old;";

static const char rows_copy[] =
    "INSERT INTO messages(id, message_id, from_msisdn, to_msisdn, ts, text, created_at, ts_key)"
    "  SELECT rowid, message_id, from_msisdn, to_msisdn, ts, text, created_at, ts_key"
    "  FROM messages_old ORDER BY rowid;"
    "DROP TABLE messages_old;";

static int user_version(sqlite3 *db) { return (int)sq_scalar(db, "PRAGMA user_version", -1); }

/* Brings the rows file to SQ_ROWS_VERSION in one transaction. */
int sq_migrate_rows(sqlite3 *db, char *err, size_t errlen) {
  int v = user_version(db);
  if (v < 0) {
    snprintf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
    return -1;
  }
  if (v > SQ_ROWS_VERSION) {
    snprintf(err, errlen, "database schema version %d is newer than this hookd (%d)", v,
             SQ_ROWS_VERSION);
    return -1;
  }
  if (v == SQ_ROWS_VERSION) return 0;
  if (sq_exec(db, "BEGIN IMMEDIATE", err, errlen)) return -1;
  int rc = 0;
  if (v == 0) {
    rc = sq_exec(db, rows_v3, err, errlen) || sq_exec(db, rows_v3_rest, err, errlen);
  } else {
    rc = sq_exec(db, rows_v2_to_v3, err, errlen) || sq_exec(db, rows_v3, err, errlen) ||
         sq_exec(db, rows_copy, err, errlen) || sq_exec(db, rows_v3_rest, err, errlen);
  }
  if (rc || sq_exec(db, "COMMIT", err, errlen)) {
    char ignore[64];
    sq_exec(db, "ROLLBACK", ignore, sizeof(ignore));
    return -1;
  }
  return 0;
}

/* The index file: everything derived from the rows. state.mark is the last
 * row id indexed; rows_id/epoch say which rows file (and which deletion
 * epoch) it was built from. fts is contentless with rowid = messages.id
 * and holds hookd_fold(text), case-sensitively: a phrase of the folded
 * needle is then exactly hookd_contains() (FTS5's own folding uses older
 * Unicode tables). */
static const char index_v1[] =
    "CREATE TABLE state(id INTEGER PRIMARY KEY CHECK (id = 1), rows_id TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL, mark INTEGER NOT NULL, messages INTEGER NOT NULL,"
    "  senders INTEGER NOT NULL);"
    "INSERT INTO state VALUES(1, '', -1, 0, 0, 0);"
    "CREATE TABLE by_ts(ts_key TEXT NOT NULL, message_id TEXT NOT NULL, id INTEGER NOT NULL,"
    "  PRIMARY KEY(ts_key, message_id)) WITHOUT ROWID;"
    "CREATE TABLE by_from(from_msisdn TEXT NOT NULL, ts_key TEXT NOT NULL,"
    "  message_id TEXT NOT NULL, id INTEGER NOT NULL,"
    "  PRIMARY KEY(from_msisdn, ts_key, message_id)) WITHOUT ROWID;"
    "CREATE TABLE sender_counts(from_msisdn TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE ts_hours(hour TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE fts USING fts5(text, content='', columnsize=0,"
    "  tokenize='trigram case_sensitive 1');"
    /* A 4 MiB pending-terms hash (1 MiB by default) flushes a whole index
     * batch as one segment, and merging 8 segments at a time (4) rewrites
     * each posting less often: 18.0 -> 14.5 us of indexer CPU per row,
     * 3.5 -> 3.2 KB written (scripts: 300k rows, batches of 16,384). */
    "INSERT INTO fts(fts, rank) VALUES('hashsize', 4194304);"
    "INSERT INTO fts(fts, rank) VALUES('automerge', 8);"
    "PRAGMA user_version=1;";

int sq_init_index(sqlite3 *db, char *err, size_t errlen) {
  int v = user_version(db);
  if (v < 0) {
    snprintf(err, errlen, "cannot read the index schema version: %s", sqlite3_errmsg(db));
    return -1;
  }
  if (v == SQ_INDEX_VERSION) return 0;
  /* Another version (or garbage): it is derived data, so start over. */
  static const char drop[] =
      "DROP TABLE IF EXISTS state; DROP TABLE IF EXISTS by_ts; DROP TABLE IF EXISTS by_from;"
      "DROP TABLE IF EXISTS sender_counts; DROP TABLE IF EXISTS ts_hours;"
      "DROP TABLE IF EXISTS fts;";
  if (sq_exec(db, "BEGIN IMMEDIATE", err, errlen)) return -1;
  if ((v != 0 && sq_exec(db, drop, err, errlen)) || sq_exec(db, index_v1, err, errlen) ||
      sq_exec(db, "COMMIT", err, errlen)) {
    char ignore[64];
    sq_exec(db, "ROLLBACK", ignore, sizeof(ignore));
    return -1;
  }
  return 0;
}
