/* store/pg/schema.cc: the PostgreSQL schema and its migrations.
 *
 * hookd_meta.schema_version says which version a database is at. A hookd
 * that finds it older (or missing) migrates in one transaction that first
 * takes pg_advisory_xact_lock(PG_ADVISORY_KEY): hosts starting at once
 * queue on the lock, and each re-reads the version once it holds it, so
 * exactly one of them runs each step. A database newer than this hookd is
 * refused.
 *
 * Columns compared or sorted by hookd use COLLATE "C": byte order, as in
 * the SQLite engine, whatever the database's default collation. The counts
 * are maintained by statement triggers (transition tables) in the changing
 * transaction, so an INSERT, COPY, DELETE or TRUNCATE from any program
 * keeps them right, as long as the triggers fire: not with
 * session_replication_role = replica (logical replication's apply) nor
 * after ALTER TABLE ... DISABLE TRIGGER; then the counts and the change
 * stamp go stale (README). They are sharded by backend so writers of
 * different hosts do not queue on one row. hookd_totals.v counts the
 * statements that changed rows: sum(v) is the change stamp the readers'
 * cache checks (rcache.cc); rows are immutable (UPDATE is refused) so
 * nothing else can change an answer. text_folded is filled by hookd's
 * writer (casefold.h): a row another program writes without it is never
 * found by q. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Version 0 -> 1: everything. */
static const char v1[] =
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE TABLE messages("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  message_id text COLLATE \"C\" NOT NULL UNIQUE,"
    "  from_msisdn text COLLATE \"C\" NOT NULL,"
    "  to_msisdn text NOT NULL,"
    "  ts text NOT NULL,"                   /* exactly as received */
    "  ts_key text COLLATE \"C\" NOT NULL," /* chronological sort key of ts */
    "  text text,"
    "  text_folded text COLLATE \"C\"," /* hookd's simple case folding of text */
    "  created_at text NOT NULL);"      /* server time, ISO-8601 UTC */
    "CREATE INDEX messages_ts ON messages(ts_key, message_id);"
    "CREATE INDEX messages_from ON messages(from_msisdn, ts_key, message_id);"
    "CREATE INDEX messages_q ON messages USING gin (text_folded gin_trgm_ops);"
    "CREATE TABLE hookd_totals(shard int PRIMARY KEY, n bigint NOT NULL, v bigint NOT NULL);"
    "CREATE TABLE hookd_sender_counts(from_msisdn text COLLATE \"C\" NOT NULL,"
    "  shard int NOT NULL, n bigint NOT NULL, PRIMARY KEY(from_msisdn, shard));"
    "CREATE FUNCTION hookd_count_insert() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE s int := pg_backend_pid() % 16;"
    " BEGIN"
    "  INSERT INTO hookd_totals AS t(shard, n, v) SELECT s, count(*), 1 FROM new_rows"
    "   HAVING count(*) > 0 ON CONFLICT (shard) DO UPDATE SET n = t.n + excluded.n, v = t.v + 1;"
    "  INSERT INTO hookd_sender_counts AS t(from_msisdn, shard, n)"
    "   SELECT from_msisdn, s, count(*) FROM new_rows GROUP BY 1 ORDER BY 1"
    "   ON CONFLICT (from_msisdn, shard) DO UPDATE SET n = t.n + excluded.n;"
    "  RETURN NULL;"
    " END $f$;"
    "CREATE FUNCTION hookd_count_delete() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE s int := pg_backend_pid() % 16;"
    " BEGIN"
    "  INSERT INTO hookd_totals AS t(shard, n, v) SELECT s, -count(*), 1 FROM old_rows"
    "   HAVING count(*) > 0 ON CONFLICT (shard) DO UPDATE SET n = t.n + excluded.n, v = t.v + 1;"
    "  INSERT INTO hookd_sender_counts AS t(from_msisdn, shard, n)"
    "   SELECT from_msisdn, s, -count(*) FROM old_rows GROUP BY 1 ORDER BY 1"
    "   ON CONFLICT (from_msisdn, shard) DO UPDATE SET n = t.n + excluded.n;"
    "  RETURN NULL;"
    " END $f$;"
    "CREATE TRIGGER messages_count_insert AFTER INSERT ON messages"
    "  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hookd_count_insert();"
    "CREATE TRIGGER messages_count_delete AFTER DELETE ON messages"
    "  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hookd_count_delete();"
    "CREATE FUNCTION hookd_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN UPDATE hookd_totals SET n = 0, v = v + 1; DELETE FROM hookd_sender_counts;"
    "  RETURN NULL; END $f$;"
    "CREATE TRIGGER messages_count_truncate AFTER TRUNCATE ON messages"
    "  FOR EACH STATEMENT EXECUTE FUNCTION hookd_count_truncate();"
    "CREATE FUNCTION hookd_immutable() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN RAISE EXCEPTION 'messages are immutable'; END $f$;"
    "CREATE TRIGGER messages_immutable BEFORE UPDATE ON messages"
    "  FOR EACH STATEMENT EXECUTE FUNCTION hookd_immutable();";

/* steps[v] brings version v to v + 1. */
static const char *const steps[PG_SCHEMA_VERSION] = {v1};

/* One text value of a one-row query: 0 ("" for SQL NULL or no row), or
 * STORE_BUSY / STORE_ERROR with err. */
static int one_value(PGconn *c, const char *sql, char *out, size_t outlen, char *err,
                     size_t errlen) {
  PGresult *res = PQexec(c, sql);
  int rc = 0;
  if (PQresultStatus(res) == PGRES_TUPLES_OK)
    snprintf(out, outlen, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
  else
    rc = pg_classify(c, res, err, errlen);
  PQclear(res);
  return rc;
}

/* The version recorded in the database into *v (0 when there is none
 * yet); 0 or pg_classify's outcome (two round trips: hookd_meta may not
 * exist, and a query naming it would not even parse). */
static int schema_version(PGconn *c, int *v, char *err, size_t errlen) {
  char val[32];
  *v = 0;
  int rc =
      one_value(c, "SELECT to_regclass('hookd_meta') IS NOT NULL", val, sizeof(val), err, errlen);
  if (rc || strcmp(val, "t")) return rc;
  rc = one_value(c, "SELECT v FROM hookd_meta WHERE k = 'schema_version'", val, sizeof(val), err,
                 errlen);
  if (!rc) *v = atoi(val);
  return rc;
}

/* The connection's lock_timeout (pg_connect) bounds every wait here, the
 * advisory lock included: a host that gives up retries later (STORE_BUSY). */
int pg_migrate(PGconn *c, char *err, size_t errlen) {
  int v;
  int rc = schema_version(c, &v, err, errlen);
  if (rc || v == PG_SCHEMA_VERSION) return rc; /* the usual case: no lock taken */
  char ignore[64];
  if ((rc = pg_exec(c, "BEGIN", err, errlen))) return rc;
  char lock[96];
  snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%lld)", (long long)PG_ADVISORY_KEY);
  if ((rc = pg_exec(c, lock, err, errlen)) ||
      (rc = pg_exec(c, "CREATE TABLE IF NOT EXISTS hookd_meta(k text PRIMARY KEY, v text NOT NULL)",
                    err, errlen)))
    goto fail;
  /* another host may have done it meanwhile */
  if ((rc = schema_version(c, &v, err, errlen))) goto fail;
  if (v > PG_SCHEMA_VERSION) {
    snprintf(err, errlen, "database schema version %d is newer than this hookd (%d)", v,
             PG_SCHEMA_VERSION);
    rc = STORE_ERROR;
    goto fail;
  }
  for (; v < PG_SCHEMA_VERSION; v++)
    if ((rc = pg_exec(c, steps[v], err, errlen))) goto fail;
  {
    char set[160];
    snprintf(set, sizeof(set),
             "INSERT INTO hookd_meta VALUES('schema_version', '%d') ON CONFLICT (k) DO UPDATE"
             " SET v = excluded.v",
             PG_SCHEMA_VERSION);
    if ((rc = pg_exec(c, set, err, errlen)) || (rc = pg_exec(c, "COMMIT", err, errlen))) goto fail;
  }
  return 0;
fail:
  pg_exec(c, "ROLLBACK", ignore, sizeof(ignore));
  return rc;
}
