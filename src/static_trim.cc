/* static_trim.cc: what a static hookd links instead of a few glibc,
 * libstdc++, libsodium and SQLite parts that it can never reach, so they stay
 * out of the binary (README "Footprint" has the measured bytes of each).
 * Compiled only with -Dstatic=true: our definitions come before libc.a and libsqlite3.a on the
 * link line, so the archive members that define the real ones are never
 * pulled in. A build that does pull one in after all fails to link
 * (duplicate symbol), never silently.
 *
 * Nothing here is a hookd feature:
 *  - getpwuid_r: only libuv's uv_os_get_passwd() calls it, and hookd does
 *    not; in a static binary it drags in glibc's NSS and DNS resolver
 *    (and the scratch image has no /etc/passwd for it to read anyway).
 *  - libstdc++'s verbose terminate handler: with -fno-exceptions only a
 *    failed operator new can reach it; it demangles a type name (a 46 KB
 *    demangler) before aborting. This one says "terminate called" and
 *    aborts.
 *  - libsodium's CPU-specific picks for primitives hookd does not use
 *    (Argon2, BLAKE2b, Poly1305, X25519, Salsa20): sodium_init() calls
 *    each, which links every one of them with its SIMD variants. Each
 *    primitive keeps its portable default; a build that starts using one
 *    pulls in its object, whose pick function then collides with the one
 *    here at link time, so this list must shrink first. HMAC-SHA256 and
 *    randombytes (ChaCha20 stays) are untouched.
 *  - SQLite's built-in FTS3/FTS4, R*Tree, dbstat and sqlite_stmt modules:
 *    hookd's schema uses none of them (FTS5 stays). Their registration
 *    functions register nothing, so such SQL fails cleanly with
 *    "no such module". */
#include <errno.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern "C" {

int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result) {
  (void)uid;
  (void)pwd;
  (void)buf;
  (void)len;
  *result = NULL;
  return ENOENT;
}

/* libsodium 1.0.18's internal pick functions, called once by sodium_init(). */
int _crypto_pwhash_argon2_pick_best_implementation(void) { return 0; }
int _crypto_generichash_blake2b_pick_best_implementation(void) { return 0; }
int _crypto_onetimeauth_poly1305_pick_best_implementation(void) { return 0; }
int _crypto_scalarmult_curve25519_pick_best_implementation(void) { return 0; }
int _crypto_stream_salsa20_pick_best_implementation(void) { return 0; }

/* SQLite's internal registration hooks (main.c's sqlite3BuiltinExtensions
 * table in 3.40); each returns SQLITE_OK having registered nothing. */
int sqlite3Fts3Init(sqlite3 *db) {
  (void)db;
  return SQLITE_OK;
}

int sqlite3RtreeInit(sqlite3 *db) {
  (void)db;
  return SQLITE_OK;
}

int sqlite3DbstatRegister(sqlite3 *db) {
  (void)db;
  return SQLITE_OK;
}

int sqlite3StmtVtabInit(sqlite3 *db) {
  (void)db;
  return SQLITE_OK;
}

} /* extern "C" */

namespace __gnu_cxx {
void __verbose_terminate_handler() {
  static const char msg[] = "hookd: terminate called\n";
  ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)w;
  abort();
}
} /* namespace __gnu_cxx */
