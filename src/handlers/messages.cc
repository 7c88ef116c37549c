/* handlers/messages.cc: GET /messages. */
#include "conn.h"
#include "handlers.h"

void handle_messages(conn *c) { conn_respond_detail(c, HTTP_NOT_IMPLEMENTED, "not implemented yet"); }
