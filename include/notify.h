/* notify.h: the systemd sd_notify datagram protocol, implemented directly
 * (no libsystemd). Without NOTIFY_SOCKET every call is a no-op, so hookd
 * runs the same with or without systemd. */
#ifndef HOOKD_NOTIFY_H
#define HOOKD_NOTIFY_H

#include <stdint.h>

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC (then unsets them, so children do
 * not inherit them). 0, or -1 when NOTIFY_SOCKET is malformed. */
int notify_init(void);
/* Sends one state string, e.g. "READY=1". 0, or -1 (also when disabled). */
int notify_send(const char *state);
/* Watchdog interval in microseconds from WATCHDOG_USEC, 0 when unset. */
uint64_t notify_watchdog_usec(void);

#endif
