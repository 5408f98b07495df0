/*
 * app_main.c — the bridge firmware: NVS config, Wi-Fi station, the bridge task
 * (logs in with libiscsi, reconnects with backoff, runs the USB side's I/O jobs,
 * answers the target's NOP-Ins while idle) and the TinyUSB device task.
 */
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_private/usb_phy.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs_flash.h"
#include "tusb.h"

#include "bridge.h"
#include "config.h"
#include "msc_tusb.h"
#include "transport_iscsi.h"
#include "usb_msc.h"

static const char *TAG = "bridge";

static struct fw_config cfg;
static struct tri tr;
static struct bridge br;
static struct msc_adapter ad;
static uint8_t ra_buf[64 * 1024] __attribute__((aligned(4)));

static void wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	(void)arg; (void)data;
	if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED))
		esp_wifi_connect(); /* the bridge's own backoff covers the iSCSI side */
}

static void wifi_start(void)
{
	wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
	wifi_config_t wc = { 0 };

	ESP_ERROR_CHECK(esp_netif_init());
	ESP_ERROR_CHECK(esp_event_loop_create_default());
	esp_netif_create_default_wifi_sta();
	ESP_ERROR_CHECK(esp_wifi_init(&init));
	ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, wifi_event, NULL));
	strncpy((char *)wc.sta.ssid, cfg.wifi_ssid, sizeof(wc.sta.ssid));
	strncpy((char *)wc.sta.password, cfg.wifi_pass, sizeof(wc.sta.password));
	ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
	ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
	ESP_ERROR_CHECK(esp_wifi_set_ps(WIFI_PS_NONE)); /* latency over power */
	ESP_ERROR_CHECK(esp_wifi_start());
}

/* The bridge task: one owner of the bridge and the iSCSI connection. */
static void bridge_task(void *arg)
{
	(void)arg;
	for (;;) {
		if (msc_work(&ad))
			continue;
		if (bridge_poll(&br, 5) == BRIDGE_DOWN) {
			uint32_t wait = bridge_retry_in_ms(&br);

			vTaskDelay(pdMS_TO_TICKS(wait ? (wait < 50 ? wait : 50) : 1));
		}
	}
}

static void usb_task(void *arg)
{
	(void)arg;
	for (;;)
		tud_task(); /* blocks on TinyUSB's event queue */
}

static void usb_phy_start(void)
{
	static usb_phy_handle_t phy;
	usb_phy_config_t pc = {
		.controller = USB_PHY_CTRL_OTG,
		.target = USB_PHY_TARGET_INT,
		.otg_mode = USB_OTG_MODE_DEVICE,
		.otg_speed = USB_PHY_SPEED_FULL,
	};

	ESP_ERROR_CHECK(usb_new_phy(&pc, &phy));
}

void app_main(void)
{
	struct tri_config tc;
	struct bridge_config bc = { 0 };
	esp_err_t err = nvs_flash_init();

	if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
		ESP_ERROR_CHECK(nvs_flash_erase());
		err = nvs_flash_init();
	}
	ESP_ERROR_CHECK(err);
	fw_config_load(&cfg);
	fw_config_log(&cfg);
	wifi_start();

	tc = (struct tri_config){
		.portal = cfg.portal, .target = cfg.target, .lun = 0,
		.initiator = cfg.initiator, .chap_user = cfg.chap_user,
		.chap_secret = cfg.chap_secret, .header_digest = cfg.header_digest,
		.timeout_s = cfg.timeout_s,
	};
	tri_init(&tr, &tc);
	bc.ra_buf = ra_buf;
	bc.ra_buf_len = sizeof(ra_buf);
	bc.ra_blocks = (uint32_t)cfg.readahead_kb * 2; /* 512-byte blocks; cut to the buffer */
	bc.no_inline_connect = true; /* only the bridge task logs in */
	bridge_init(&br, &tri_ops, &tr, &bc);
	msc_init(&ad, &br, usb_msc_done, NULL);
	usb_msc_bind(&ad);

	usb_phy_start();
	tusb_init();
	xTaskCreatePinnedToCore(usb_task, "usb", 4096, NULL, 5, NULL, 0);
	xTaskCreatePinnedToCore(bridge_task, "bridge", 8192, NULL, 4, NULL, 1);
	ESP_LOGI(TAG, "started: %s on %s as %s", cfg.target, cfg.portal, cfg.initiator);
}
