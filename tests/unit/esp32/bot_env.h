/*
 * bot_env.h — the bridge core under a BOT unit test (test_bot, test_bot_random): the
 * in-memory LUN (fake_transport.h), the bridge over it, its logical unit, and the bulk
 * endpoints that bot_command moves (fake_bot_io.h).
 */
#ifndef BOT_ENV_H
#define BOT_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bot.h"
#include "fake_bot_io.h"
#include "fake_transport.h"

extern int bplat_log_level;

struct bot_env {
	struct fake f;
	struct bridge b;
	struct scsi_lu lu;
	struct fio io;
	struct bot_io bio;
	uint8_t buf[4096];  /* bot_command's data buffer */
};

/*
 * Set e up: the fake's patterned disk, a bridge over it with read-ahead of ra_blocks
 * into ra_buf (ra_len bytes; NULL, 0, 0 = none), its LU, the endpoints, quiet logs.
 */
static inline void bot_env_init(struct bot_env *e, uint8_t *ra_buf, size_t ra_len,
				uint32_t ra_blocks)
{
	memset(e, 0, sizeof(*e));
	bplat_log_level = 0;
	fake_setup(&e->f, &e->b, ra_buf, ra_len, ra_blocks);
	scsi_lu_init(&e->lu, &e->b);
	e->bio = (struct bot_io){ fio_send, fio_recv, fio_stall, &e->io };
}

#endif
