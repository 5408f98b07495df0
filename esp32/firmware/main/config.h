/*
 * config.h — the bridge firmware's settings: one table (config.c) lists every key,
 * its Kconfig default and its NVS key (namespace "bridge"); NVS overrides Kconfig.
 */
#ifndef FW_CONFIG_H
#define FW_CONFIG_H

#include <stdbool.h>

struct fw_config {
	char wifi_ssid[33];
	char wifi_pass[65];
	char portal[128];
	char target[224];      /* RFC 7143 §4.2.7.1: names up to 223 bytes */
	char initiator[224];
	char chap_user[64];
	char chap_secret[64];
	bool header_digest;
	int readahead_kb;
	int timeout_s;
};

/* Fill *c from Kconfig defaults, then NVS; derive the initiator name from the
 * station MAC if none is set. nvs_flash_init() must have run. */
void fw_config_load(struct fw_config *c);

/* Log every setting (secrets as "set"/"unset"). */
void fw_config_log(const struct fw_config *c);

#endif
