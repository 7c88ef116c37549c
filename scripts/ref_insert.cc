/* ref_insert.cc: the storage reference for scripts/bench.py. A plain SQLite
 * program that commits the same generated rows hookd would (the bodies of a
 * gen_requests.py file, parsed by hookd's own parser before timing starts)
 * into a rowid table with a unique message_id, ROWS per transaction, WAL,
 * synchronous=FULL, on the disk it is pointed at, for at most SECONDS.
 *
 *   ref_insert REQUESTS.tsv DB_PATH SECONDS [ROWS]
 *
 * Prints one line: rows=N seconds=S rows_per_s=R */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "message.h"

struct row {
  message m;
  char *body; /* owned: the parsed strings point into it */
};

static int load(const char *path, row **out, size_t *n) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  *out = NULL;
  *n = 0;
  while ((len = getline(&line, &lcap, f)) > 0) {
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    size_t blen = (size_t)(line + len - (tab + 1));
    while (blen && (tab[blen] == '\n' || tab[blen] == '\r')) blen--;
    if (*n == cap) {
      cap = cap ? cap * 2 : 65536;
      row *p = (row *)realloc(*out, cap * sizeof(row));
      if (!p) return -1;
      *out = p;
    }
    row *r = &(*out)[*n];
    r->body = (char *)malloc(blen + MSG_PARSE_PAD);
    if (!r->body) return -1;
    memcpy(r->body, tab + 1, blen);
    msg_errors errs;
    if (message_parse(r->body, blen, &r->m, &errs) != 0) {
      free(r->body);
      continue;
    }
    (*n)++;
  }
  free(line);
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ref_insert REQUESTS.tsv DB_PATH SECONDS [ROWS]\n");
    return 2;
  }
  double seconds = atof(argv[3]);
  int per_tx = argc > 4 ? atoi(argv[4]) : 64;
  row *rows;
  size_t n;
  if (load(argv[1], &rows, &n) != 0 || n == 0 || per_tx < 1) {
    fprintf(stderr, "ref_insert: cannot load %s\n", argv[1]);
    return 1;
  }
  sqlite3 *db;
  if (sqlite3_open(argv[2], &db) != SQLITE_OK) return 1;
  const char *setup =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, message_id TEXT NOT NULL,"
      " from_msisdn TEXT NOT NULL, to_msisdn TEXT NOT NULL, ts TEXT NOT NULL, text TEXT,"
      " created_at TEXT NOT NULL, ts_key TEXT NOT NULL);"
      "CREATE UNIQUE INDEX IF NOT EXISTS messages_message_id ON messages(message_id);";
  sqlite3_stmt *ins = NULL;
  if (sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, "
                         "text, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                         "ON CONFLICT(message_id) DO NOTHING",
                         -1, &ins, NULL) != SQLITE_OK) {
    fprintf(stderr, "ref_insert: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  char now[CLOCK_ISO_LEN + 1];
  clock_iso_ms(clock_wall_ms(), now);
  uint64_t t0 = clock_mono_ns(), limit = (uint64_t)(seconds * 1e9);
  size_t done = 0;
  while (done < n && clock_mono_ns() - t0 < limit) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return 1;
    for (int k = 0; k < per_tx && done < n; k++, done++) {
      const message *m = &rows[done].m;
      const str f[6] = {m->message_id, m->from, m->to, m->ts, str{m->ts_key, m->ts_key_len},
                        m->text};
      for (int i = 0; i < 6; i++) {
        if (i == 5 && !f[i].base)
          sqlite3_bind_null(ins, i + 1);
        else
          sqlite3_bind_text(ins, i + 1, f[i].base, (int)f[i].len, SQLITE_STATIC);
      }
      sqlite3_bind_text(ins, 7, now, CLOCK_ISO_LEN, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) return 1;
      sqlite3_reset(ins);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return 1;
  }
  double s = (double)(clock_mono_ns() - t0) / 1e9;
  printf("rows=%zu seconds=%.3f rows_per_s=%.0f\n", done, s, (double)done / s);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  for (size_t i = 0; i < n; i++) free(rows[i].body);
  free(rows);
  return 0;
}
