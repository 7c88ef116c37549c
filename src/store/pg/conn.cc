/* store/pg/conn.cc: opening libpq connections, running one prepared
 * statement to the end, and turning PostgreSQL's errors into the seam's
 * outcomes (503 for what passes, 500 for the rest). Any thread: every
 * function touches only the connection it is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Copies a libpq message into err on one line (libpq ends them with \n
 * and may put DETAIL on the next line). */
static void copy_msg(const char *msg, char *err, size_t errlen) {
  if (!errlen) return;
  size_t n = 0;
  for (const char *p = msg ? msg : ""; *p && n + 1 < errlen; p++)
    err[n++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
  while (n && err[n - 1] == ' ') n--;
  err[n] = 0;
  if (!n) snprintf(err, errlen, "unknown PostgreSQL error");
}

int pg_check_url(const char *url, char *err, size_t errlen) {
  char *msg = NULL;
  PQconninfoOption *o = PQconninfoParse(url, &msg);
  if (!o) {
    copy_msg(msg ? msg : "out of memory", err, errlen);
    PQfreemem(msg);
    return -1;
  }
  PQconninfoFree(o);
  return 0;
}

/* Blocking connect (at most connect_timeout seconds), then the session's
 * timeouts. The URL is expanded last so what it says wins; libpq adds the
 * PG* variables and the password file for whatever neither names. */
PGconn *pg_connect(const char *url, int lock_ms, int statement_ms, char *err, size_t errlen) {
  const char *keys[8], *vals[8];
  int n = 0;
  if (!getenv("PGCONNECT_TIMEOUT")) {
    keys[n] = "connect_timeout";
    vals[n++] = PG_CONNECT_TIMEOUT;
  }
  /* A blocking call must not wait forever on a server that vanished
   * without a reset (a partition): TCP keepalives find a silent peer,
   * tcp_user_timeout unacknowledged data. The URL may say otherwise. */
  keys[n] = "keepalives_idle";
  vals[n++] = "10";
  keys[n] = "keepalives_count";
  vals[n++] = "3";
  keys[n] = "tcp_user_timeout";
  vals[n++] = "30000";
  keys[n] = "fallback_application_name";
  vals[n++] = "hookd";
  keys[n] = "dbname";
  vals[n++] = url;
  keys[n] = "client_encoding"; /* hookd's strings are UTF-8 */
  vals[n++] = "UTF8";
  keys[n] = NULL;
  vals[n] = NULL;
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    copy_msg(PQerrorMessage(c), err, errlen);
    PQfinish(c);
    return NULL;
  }
  /* SET rather than the startup packet's `options`: those would replace
   * what the URL or PGOPTIONS say instead of adding to them. Before any
   * other statement, so the schema check (locks) is bounded too. */
  char set[96];
  snprintf(set, sizeof(set), "SET lock_timeout = %d", lock_ms);
  if (statement_ms > 0)
    snprintf(set + strlen(set), sizeof(set) - strlen(set), "; SET statement_timeout = %d",
             statement_ms);
  if (pg_exec(c, set, err, errlen)) {
    PQfinish(c);
    return NULL;
  }
  return c;
}

int pg_classify(PGconn *c, const PGresult *res, char *err, size_t errlen) {
  const char *msg = res ? PQresultErrorMessage(res) : NULL;
  copy_msg(msg && *msg ? msg : PQerrorMessage(c), err, errlen);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (PQstatus(c) != CONNECTION_OK || !state) return STORE_BUSY; /* lost, or client side */
  /* 08 connection, 40 deadlock/serialization, 53 resources, 57 shutdown or
   * cancel, 58 I/O, 55P03 lock not available: all pass. */
  if (!strncmp(state, "08", 2) || !strncmp(state, "40", 2) || !strncmp(state, "53", 2) ||
      !strncmp(state, "57", 2) || !strncmp(state, "58", 2) || !strcmp(state, "55P03"))
    return STORE_BUSY;
  return STORE_ERROR;
}

int pg_exec(PGconn *c, const char *sql, char *err, size_t errlen) {
  PGresult *res = PQexec(c, sql);
  int st = PQresultStatus(res);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  int rc = ok ? 0 : pg_classify(c, res, err, errlen);
  PQclear(res);
  return rc;
}

PGresult *pg_run(PGconn *c, const char *name, int n, const char *const *vals, const int *lens,
                 const int *fmts, int *done) {
  *done = 0;
  if (!PQsendQueryPrepared(c, name, n, vals, lens, fmts, 0)) return NULL;
  PGresult *keep = NULL, *res;
  while ((res = PQgetResult(c)) != NULL) {
    int st = PQresultStatus(res);
    int is_err = st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK;
    int keep_err =
        keep && PQresultStatus(keep) != PGRES_TUPLES_OK && PQresultStatus(keep) != PGRES_COMMAND_OK;
    if (!keep || (is_err && !keep_err)) { /* the first error wins over rows */
      PQclear(keep);
      keep = res;
    } else {
      PQclear(res);
    }
  }
  /* ReadyForQuery arrived: an implicit transaction has committed. */
  *done = PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
  return keep;
}
