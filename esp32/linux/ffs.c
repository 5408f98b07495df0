/* ffs.c — see ffs.h. Kernel interface: include/uapi/linux/usb/functionfs.h and
 * Documentation/usb/functionfs.rst. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include "ffs.h"

/* constant little-endian conversions for the static descriptor tables */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LE32(x) ((uint32_t)(x))
#define LE16(x) ((uint16_t)(x))
#else
#define LE32(x) __builtin_bswap32((uint32_t)(x))
#define LE16(x) __builtin_bswap16((uint16_t)(x))
#endif

#define BOT_REQ_RESET       0xff /* Bulk-Only Mass Storage Reset, BOT §3.1 */
#define BOT_REQ_GET_MAX_LUN 0xfe /* BOT §3.2 */

static const struct {
	struct usb_functionfs_descs_head_v2 head;
	__le32 fs_count;
	struct {
		struct usb_interface_descriptor intf;
		struct usb_endpoint_descriptor_no_audio in, out;
	} __attribute__((packed)) fs;
} __attribute__((packed)) descriptors = {
	.head = {
		.magic = LE32(FUNCTIONFS_DESCRIPTORS_MAGIC_V2),
		.flags = LE32(FUNCTIONFS_HAS_FS_DESC),
		.length = LE32(sizeof(descriptors)),
	},
	.fs_count = LE32(3),
	.fs = {
		.intf = {
			.bLength = sizeof(descriptors.fs.intf),
			.bDescriptorType = USB_DT_INTERFACE,
			.bNumEndpoints = 2,
			.bInterfaceClass = USB_CLASS_MASS_STORAGE,
			.bInterfaceSubClass = 0x06, /* SCSI transparent command set */
			.bInterfaceProtocol = 0x50, /* Bulk-Only Transport */
			.iInterface = 1,
		},
		.in = {
			.bLength = sizeof(descriptors.fs.in),
			.bDescriptorType = USB_DT_ENDPOINT,
			.bEndpointAddress = 1 | USB_DIR_IN,
			.bmAttributes = USB_ENDPOINT_XFER_BULK,
			.wMaxPacketSize = LE16(64),
		},
		.out = {
			.bLength = sizeof(descriptors.fs.out),
			.bDescriptorType = USB_DT_ENDPOINT,
			.bEndpointAddress = 2 | USB_DIR_OUT,
			.bmAttributes = USB_ENDPOINT_XFER_BULK,
			.wMaxPacketSize = LE16(64),
		},
	},
};

#define STR_INTERFACE "iSCSI USB bridge"
static const struct {
	struct usb_functionfs_strings_head head;
	struct {
		__le16 code;
		const char str1[sizeof(STR_INTERFACE)];
	} __attribute__((packed)) lang0;
} __attribute__((packed)) strings = {
	.head = {
		.magic = LE32(FUNCTIONFS_STRINGS_MAGIC),
		.length = LE32(sizeof(strings)),
		.str_count = LE32(1),
		.lang_count = LE32(1),
	},
	.lang0 = { LE16(0x0409), STR_INTERFACE },
};

int ffs_open(struct ffs *f, const char *dir)
{
	char p[512];

	memset(f, 0, sizeof(*f));
	f->ep0 = f->ep_in = f->ep_out = -1;
	snprintf(p, sizeof(p), "%s/ep0", dir);
	f->ep0 = open(p, O_RDWR);
	if (f->ep0 < 0) {
		fprintf(stderr, "usb-gadget: open %s: %s\n", p, strerror(errno));
		return -1;
	}
	if (write(f->ep0, &descriptors, sizeof(descriptors)) != (ssize_t)sizeof(descriptors) ||
	    write(f->ep0, &strings, sizeof(strings)) != (ssize_t)sizeof(strings)) {
		fprintf(stderr, "usb-gadget: writing descriptors to %s: %s\n", p, strerror(errno));
		return -1;
	}
	snprintf(p, sizeof(p), "%s/ep1", dir);
	f->ep_in = open(p, O_RDWR);
	snprintf(p, sizeof(p), "%s/ep2", dir);
	f->ep_out = open(p, O_RDWR);
	if (f->ep_in < 0 || f->ep_out < 0) {
		fprintf(stderr, "usb-gadget: open %s/ep1, ep2: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void setup(struct ffs *f, const struct usb_ctrlrequest *r)
{
	uint8_t zero = 0, scratch[64];
	uint16_t len = le16toh(r->wLength);

	if ((r->bRequestType & USB_TYPE_MASK) == USB_TYPE_CLASS) {
		if (r->bRequest == BOT_REQ_GET_MAX_LUN && (r->bRequestType & USB_DIR_IN) && len >= 1) {
			if (write(f->ep0, &zero, 1) != 1) /* one LUN: LUN 0 */
				fprintf(stderr, "usb-gadget: Get Max LUN reply: %s\n", strerror(errno));
			return;
		}
		if (r->bRequest == BOT_REQ_RESET && !(r->bRequestType & USB_DIR_IN) && !len) {
			f->resets++;
			if (read(f->ep0, scratch, 0) < 0) /* status stage */
				fprintf(stderr, "usb-gadget: reset ack: %s\n", strerror(errno));
			return;
		}
	}
	/* Anything else: stall ep0 (I/O in the wrong direction halts it). */
	if (r->bRequestType & USB_DIR_IN)
		(void)!read(f->ep0, scratch, 0);
	else
		(void)!write(f->ep0, scratch, 0);
}

int ffs_event(struct ffs *f)
{
	struct usb_functionfs_event ev;
	ssize_t n = read(f->ep0, &ev, sizeof(ev));

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n != (ssize_t)sizeof(ev))
		return 0;
	switch (ev.type) {
	case FUNCTIONFS_ENABLE:
		f->enabled = true;
		fprintf(stderr, "usb-gadget: host enabled the function\n");
		break;
	case FUNCTIONFS_DISABLE:
	case FUNCTIONFS_UNBIND:
		f->enabled = false;
		break;
	case FUNCTIONFS_SETUP:
		setup(f, &ev.u.setup);
		break;
	default:
		break;
	}
	return 0;
}

int ffs_send(struct ffs *f, const uint8_t *buf, uint32_t len)
{
	while (len) {
		ssize_t n = write(f->ep_in, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (uint32_t)n;
	}
	return 0;
}

int ffs_recv(struct ffs *f, uint8_t *buf, uint32_t len)
{
	while (len) {
		ssize_t n = read(f->ep_out, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (uint32_t)n;
	}
	return 0;
}

long ffs_recv_some(struct ffs *f, uint8_t *buf, uint32_t len)
{
	return (long)read(f->ep_out, buf, len);
}

void ffs_stall(struct ffs *f, bool in)
{
	uint8_t b;

	/* -EBADMSG is the expected answer: the endpoint is halted */
	if (in)
		(void)!read(f->ep_in, &b, 0);
	else
		(void)!write(f->ep_out, &b, 0);
}

void ffs_close(struct ffs *f)
{
	if (f->ep_in >= 0)
		close(f->ep_in);
	if (f->ep_out >= 0)
		close(f->ep_out);
	if (f->ep0 >= 0)
		close(f->ep0);
	f->ep0 = f->ep_in = f->ep_out = -1;
}
