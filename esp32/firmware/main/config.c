/* config.c — see config.h. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "esp_log.h"
#include "esp_mac.h"
#include "nvs.h"
#include "sdkconfig.h"

#include "config.h"

static const char *TAG = "config";

#define STR(field, key, def) { key, offsetof(struct fw_config, field), \
			       sizeof(((struct fw_config *)0)->field), def }

/* Every string setting: NVS key, place, Kconfig default. */
static const struct {
	const char *key;
	size_t off, len;
	const char *def;
} str_opts[] = {
	STR(wifi_ssid, "wifi_ssid", CONFIG_BRIDGE_WIFI_SSID),
	STR(wifi_pass, "wifi_pass", CONFIG_BRIDGE_WIFI_PASSWORD),
	STR(portal, "portal", CONFIG_BRIDGE_PORTAL),
	STR(target, "target", CONFIG_BRIDGE_TARGET),
	STR(initiator, "initiator", CONFIG_BRIDGE_INITIATOR),
	STR(chap_user, "chap_user", CONFIG_BRIDGE_CHAP_USER),
	STR(chap_secret, "chap_secret", CONFIG_BRIDGE_CHAP_SECRET),
};

void fw_config_load(struct fw_config *c)
{
	nvs_handle_t h;
	bool have_nvs = nvs_open("bridge", NVS_READONLY, &h) == ESP_OK;
	int32_t v;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(str_opts) / sizeof(str_opts[0]); i++) {
		char *dst = (char *)c + str_opts[i].off;
		size_t len = str_opts[i].len;

		snprintf(dst, len, "%s", str_opts[i].def);
		if (have_nvs && nvs_get_str(h, str_opts[i].key, dst, &len) != ESP_OK)
			snprintf(dst, str_opts[i].len, "%s", str_opts[i].def);
	}
	c->header_digest = IS_ENABLED(CONFIG_BRIDGE_HEADER_DIGEST);
	c->readahead_kb = CONFIG_BRIDGE_READAHEAD_KB;
	c->timeout_s = CONFIG_BRIDGE_TIMEOUT_S;
	if (have_nvs) {
		if (nvs_get_i32(h, "readahead_kb", &v) == ESP_OK && v >= 0 && v <= 64)
			c->readahead_kb = (int)v;
		if (nvs_get_i32(h, "timeout_s", &v) == ESP_OK && v >= 2 && v <= 60)
			c->timeout_s = (int)v;
		nvs_close(h);
	}
	if (!c->initiator[0]) {
		uint8_t mac[6];

		esp_read_mac(mac, ESP_MAC_WIFI_STA);
		snprintf(c->initiator, sizeof(c->initiator),
			 "iqn.2025-01.pub.scsipub:esp32-%02x%02x%02x%02x%02x%02x",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	}
}

void fw_config_log(const struct fw_config *c)
{
	ESP_LOGI(TAG, "wifi_ssid=%s wifi_pass=%s", c->wifi_ssid, c->wifi_pass[0] ? "set" : "unset");
	ESP_LOGI(TAG, "portal=%s target=%s initiator=%s", c->portal, c->target, c->initiator);
	ESP_LOGI(TAG, "chap_user=%s chap_secret=%s header_digest=%d readahead_kb=%d timeout_s=%d",
		 c->chap_user[0] ? c->chap_user : "(none)", c->chap_secret[0] ? "set" : "unset",
		 c->header_digest, c->readahead_kb, c->timeout_s);
}
