/* handlers/dashboard.cc: GET / (the live dashboard). */
#include "conn.h"
#include "handlers.h"

void handle_dashboard(conn *c) { conn_respond_detail(c, HTTP_NOT_IMPLEMENTED, "not implemented yet"); }
