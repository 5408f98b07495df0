/*
 * esp_shim.h — force-included into every libiscsi source on ESP-IDF (-include).
 * Fills the gaps between what libiscsi expects from a POSIX system and what
 * ESP-IDF's newlib + lwIP offer; esp_shim.c has the bodies.
 */
#ifndef LIBISCSI_ESP_SHIM_H
#define LIBISCSI_ESP_SHIM_H

#include <sys/types.h>

/* lwIP has no SOL_TCP; IPPROTO_TCP is the same level. libiscsi falls back to
 * IPPROTO_TCP itself when SOL_TCP is missing; TCP_USER_TIMEOUT/TCP_SYNCNT, which
 * lwIP lacks, are only set when asked for (LIBISCSI_TCP_* environment, unused). */

/* newlib on ESP-IDF: getpid() returns a constant; libiscsi only seeds rand() with it (the
 * ISID's random part), so mix in the chip's hardware RNG instead. */
pid_t libiscsi_esp_getpid(void);
#define getpid libiscsi_esp_getpid

/* No environment on the chip: every LIBISCSI_* tuning variable reads as unset. */
char *libiscsi_esp_getenv(const char *name);
#define getenv libiscsi_esp_getenv

#endif
