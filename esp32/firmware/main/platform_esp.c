/* platform_esp.c — bridge_platform.h on ESP-IDF: esp_timer and ESP_LOG. */
#include <stdio.h>

#include "esp_log.h"
#include "esp_timer.h"

#include "bridge_platform.h"

uint64_t bplat_now_ms(void)
{
	return (uint64_t)esp_timer_get_time() / 1000u;
}

void bplat_log(enum bplat_level lvl, const char *fmt, ...)
{
	static const esp_log_level_t map[] = { ESP_LOG_ERROR, ESP_LOG_WARN, ESP_LOG_INFO, ESP_LOG_DEBUG };
	char line[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ESP_LOG_LEVEL(map[lvl], "bridge", "%s", line);
}
