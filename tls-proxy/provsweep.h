/*
 * provsweep.h — no kernel state left behind by logins to provisioned targets
 * (issue 8 §4; docs/provisioned.md).
 *
 * A provisioned target s.<id> is a demo-mode TPG: LIO makes a dynamic node ACL for
 * every InitiatorName at its first Login PDU, before CHAP, and keeps it (with an
 * entry per LUN) after a failed login, so a stream of failed logins with fresh names
 * would grow kernel memory without bound. The portal relays every such login, so it
 * knows each name: it brackets each relay with provsweep_enter/provsweep_leave, and
 * when the last relay of a (target, InitiatorName) pair ends, the pair's dynamic ACL
 * is freed with cfs_acl_sweep_dynamic (which leaves alone a name with a live session,
 * an explicit ACL or a PR registration). While a pair is being swept, a new relay of
 * the same pair waits in provsweep_enter, so the sweep never races its login.
 *
 * The name is swept as LIO stores it: lowercased (RFC 3720 §3.2.6.1, LIO's
 * iscsi_target_locate_portal); a name with upper case letters is also swept as sent.
 * configfs changes run under the state directory's configfs lock (prov_lock).
 * Thread-safe.
 */
#ifndef SCSIPUB_PROVSWEEP_H
#define SCSIPUB_PROVSWEEP_H

#include <stddef.h>

struct provsweep;

/* A sweeper for configfs_root (NULL = CFS_DEFAULT_ROOT), locking in state_dir (NULL =
 * no lock file: tests). Caller owns; NULL on allocation failure. */
struct provsweep *provsweep_new(const char *configfs_root, const char *state_dir);
/* A sweeper that asks scsipub-cfgd (cfgd_proto.h: acl_sweep) at cfgd_socket to free the
 * ACLs: the portal runs unprivileged. Caller owns; NULL on allocation failure. */
struct provsweep *provsweep_new_remote(const char *cfgd_socket);
/* Free it (NULL is a no-op). No relay may be between enter and leave. */
void provsweep_free(struct provsweep *s);

/* A relay of initiator's login to target starts (waits while that pair is swept).
 * 0, or -ENOMEM (then do not call provsweep_leave). */
int provsweep_enter(struct provsweep *s, const char *target, const char *initiator);

/*
 * That relay ended. When it was the pair's last live relay, sweep the pair's dynamic
 * ACL. Returns 1 when an ACL was freed, 0 when nothing was done, -errno with a reason
 * in err (errlen bytes; may be NULL).
 */
int provsweep_leave(struct provsweep *s, const char *target, const char *initiator,
		    char *err, size_t errlen);

#endif
