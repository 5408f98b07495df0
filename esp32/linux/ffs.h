/*
 * ffs.h — a USB Mass Storage (Bulk-Only Transport) function on Linux FunctionFS:
 * descriptors for one interface (class 08h, subclass 06h SCSI transparent,
 * protocol 50h BOT) with a bulk-in and a bulk-out endpoint, full speed only (64-byte
 * packets, like the ESP32-S3), and the class requests Get Max LUN and Bulk-Only Mass
 * Storage Reset (BOT §3.1, §3.2) answered on ep0.
 */
#ifndef FFS_H
#define FFS_H

#include <stdbool.h>
#include <stdint.h>

struct ffs {
	int ep0, ep_in, ep_out;  /* ep0, ep1 (bulk-in), ep2 (bulk-out) of the mount */
	volatile bool enabled;   /* between FUNCTIONFS_ENABLE and DISABLE/UNBIND */
	volatile unsigned resets;/* Bulk-Only Mass Storage Resets seen */
};

/* Open dir/ep0, write the descriptors and strings, open dir/ep1 and dir/ep2.
 * 0, or -1 with a message on stderr. */
int ffs_open(struct ffs *f, const char *dir);

/* Read and handle one ep0 event (blocking). 0, or -1 when ep0 failed. */
int ffs_event(struct ffs *f);

/* Bulk endpoint I/O: exactly len bytes, 0 or -1 (errno set). */
int ffs_send(struct ffs *f, const uint8_t *buf, uint32_t len);
int ffs_recv(struct ffs *f, uint8_t *buf, uint32_t len);
/* Read up to len bytes of one transfer (a CBW); bytes read or -1. */
long ffs_recv_some(struct ffs *f, uint8_t *buf, uint32_t len);
/* Halt the bulk-in (in) or bulk-out endpoint (FunctionFS halts an endpoint on I/O
 * in the wrong direction). */
void ffs_stall(struct ffs *f, bool in);

void ffs_close(struct ffs *f);

#endif
