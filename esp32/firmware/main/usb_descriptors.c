/* usb_descriptors.c — device, configuration and string descriptors of the bridge:
 * one Mass Storage interface, SCSI transparent command set, Bulk-Only Transport
 * (class 08h, subclass 06h, protocol 50h), full speed. */
#include <string.h>

#include "tusb.h"

enum { ITF_MSC = 0, ITF_COUNT };
#define EP_MSC_OUT 0x01
#define EP_MSC_IN  0x81
#define CONFIG_TOTAL_LEN (TUD_CONFIG_DESC_LEN + TUD_MSC_DESC_LEN)

static const tusb_desc_device_t dev_desc = {
	.bLength = sizeof(tusb_desc_device_t),
	.bDescriptorType = TUSB_DESC_DEVICE,
	.bcdUSB = 0x0200,
	.bMaxPacketSize0 = CFG_TUD_ENDPOINT0_SIZE,
	.idVendor = 0x1d6b,  /* Linux Foundation; replace with an owned VID:PID */
	.idProduct = 0x0104, /* Multifunction Composite Gadget */
	.bcdDevice = 0x0100,
	.iManufacturer = 1,
	.iProduct = 2,
	.iSerialNumber = 3,
	.bNumConfigurations = 1,
};

static const uint8_t cfg_desc[] = {
	TUD_CONFIG_DESCRIPTOR(1, ITF_COUNT, 0, CONFIG_TOTAL_LEN, 0x80, 100),
	TUD_MSC_DESCRIPTOR(ITF_MSC, 0, EP_MSC_OUT, EP_MSC_IN, 64),
};

const uint8_t *tud_descriptor_device_cb(void)
{
	return (const uint8_t *)&dev_desc;
}

const uint8_t *tud_descriptor_configuration_cb(uint8_t index)
{
	(void)index;
	return cfg_desc;
}

static uint16_t str_buf[33];

const uint16_t *tud_descriptor_string_cb(uint8_t index, uint16_t langid)
{
	static const char *const s[] = { NULL, "scsipub", "iSCSI USB bridge", "0001" };
	size_t n;

	(void)langid;
	if (index == 0) {
		str_buf[1] = 0x0409;
		n = 1;
	} else if (index < sizeof(s) / sizeof(s[0])) {
		n = strlen(s[index]);
		if (n > 32)
			n = 32;
		for (size_t i = 0; i < n; i++)
			str_buf[1 + i] = (uint8_t)s[index][i];
	} else {
		return NULL;
	}
	str_buf[0] = (uint16_t)((TUSB_DESC_STRING << 8) | (2 * n + 2));
	return str_buf;
}
