/* handlers/stats.cc: GET /stats. */
#include "conn.h"
#include "handlers.h"

void handle_stats(conn *c) { conn_respond_detail(c, HTTP_NOT_IMPLEMENTED, "not implemented yet"); }
