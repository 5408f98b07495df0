/*
 * bridge_platform.h — the only operating-system services the bridge core uses.
 *
 * Every other file in esp32/core is plain C11 (only <stdint.h>, <stddef.h>,
 * <stdbool.h>, <string.h>, <stdarg.h>, <stdatomic.h>) and calls the OS through this
 * header alone. platform_posix.c implements it for Linux/POSIX; the ESP-IDF firmware
 * implements it in esp32/firmware/main/platform_esp.c (esp_timer, ESP_LOG).
 * tests/unit/esp32 supplies its own clock through bridge_config.now_ms.
 */
#ifndef BRIDGE_PLATFORM_H
#define BRIDGE_PLATFORM_H

#include <stdarg.h>
#include <stdint.h>

/* Monotonic milliseconds since an arbitrary origin; never goes backwards. */
uint64_t bplat_now_ms(void);

enum bplat_level { BPLAT_ERR = 0, BPLAT_WARN = 1, BPLAT_INFO = 2, BPLAT_DEBUG = 3 };

/* Log one line (no trailing newline needed) at a level; printf-style format. */
void bplat_log(enum bplat_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
