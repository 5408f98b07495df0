/* tusb_config.h — TinyUSB configuration of the bridge: one MSC interface, device
 * mode on the ESP32-S3's full-speed OTG port. */
#ifndef TUSB_CONFIG_H
#define TUSB_CONFIG_H

#define CFG_TUSB_MCU            OPT_MCU_ESP32S3
#define CFG_TUSB_OS             OPT_OS_FREERTOS
#define CFG_TUSB_RHPORT0_MODE   (OPT_MODE_DEVICE | OPT_MODE_FULL_SPEED)
#define CFG_TUD_ENABLED         1
#define CFG_TUD_ENDPOINT0_SIZE  64
#define CFG_TUD_MSC             1
#define CFG_TUD_CDC             0
#define CFG_TUD_HID             0
#define CFG_TUD_MIDI            0
#define CFG_TUD_VENDOR          0
/* Bytes per read10/write10 callback: 8 blocks, one iSCSI command each. The
 * read-ahead window turns the 8-block reads of a sequential copy into fewer,
 * larger READs on a slow link. */
#define CFG_TUD_MSC_EP_BUFSIZE  4096

#endif
