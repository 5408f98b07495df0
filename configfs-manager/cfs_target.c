/*
 * cfs_target.c — iSCSI targets, their TPG (tpgt_1), network portals and TPG attributes
 * (iscsi/<iqn>/tpgt_1; lio-tcmu-facts.md §3.1, K:iscsi/iscsi_target_configfs.c): made,
 * listed and removed (with the TPG's LUNs and ACLs). Finding a TPG and reading its
 * sessions is cfs_tpg.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_priv.h"
#include "monotime.h"

struct tpg_attr {
	const char *name;
	const char *val;
};

/*
 * TPG attributes for explicit ACLs only (lio-tcmu-facts.md §4): no demo mode, no
 * discovery for initiators without an ACL, no CHAP unless asked (the portal in front
 * decides).
 * generate_node_acls goes first: while it is 1 the kernel forces cache_dynamic_acls=1.
 *
 * default_cmdsn_depth: the CmdSN window (RFC 7143 §3.2.2.1: commands, not bytes, an
 * initiator may have outstanding per session) each ACL made afterwards starts with.
 * LIO sizes a session's command pool from it at login, 2 * max(16, depth) + 8
 * commands in one physically contiguous allocation (K:iscsi/iscsi_target_nego.c,
 * transport_alloc_session_tags): LIO's default 64 measured 396 KiB of unreclaimable
 * kernel memory per anonymous session in the lab, 32 measured 267 KiB. 32 is what the
 * Linux initiator queues per LUN (open-iscsi node.session.queue_depth).
 */
#define CFS_CMDSN_DEPTH "32"
/*
 * Two of them differ by target kind:
 *  - prod_mode_write_protect=1 for the shared read-only exports (anon.h, ro.<name>),
 *    so every mapped LUN is born read-only when its link is made
 *    (K:target_fabric_mappedlun_link takes lun_access_ro from it for explicit ACLs):
 *    no window in which a session could write before write_protect is set;
 *  - authentication=1 for accounts' private images (anon.h, p.<account>.<name>), so
 *    LIO asks every login for CHAP (RFC 7143 §12.1.3) and checks it against the
 *    credentials in the session's own ACL (cfs_acl_set_chap).
 */
#define EXPLICIT_ACL_ATTRS(auth, ro) {                          \
		{ "generate_node_acls", "0" },                  \
		{ "demo_mode_discovery", "0" },                 \
		{ "authentication", (auth) ? "1" : "0" },       \
		{ "cache_dynamic_acls", "0" },                  \
		{ "demo_mode_write_protect", "1" },             \
		{ "prod_mode_write_protect", (ro) ? "1" : "0" },\
		{ "default_cmdsn_depth", CFS_CMDSN_DEPTH },     \
	}
static const struct tpg_attr tpg_attrs[] = EXPLICIT_ACL_ATTRS(0, 0);
static const struct tpg_attr ro_attrs[] = EXPLICIT_ACL_ATTRS(0, 1);
static const struct tpg_attr auth_attrs[] = EXPLICIT_ACL_ATTRS(1, 0);

/*
 * TPG parameters (param/, K:iscsi/iscsi_target_configfs.c DEF_TPG_PARAM) for every
 * target we make: CRC32C header and data digests offered (RFC 7143 §13.1), None still
 * accepted; one connection per session (MaxConnections=1, §13.2): an anonymous
 * session is private to its connection (tls-proxy/session.h).
 * Write bursts: unsolicited data allowed (InitialR2T=No, §13.10) up to 1 MiB per
 * command, immediate data included (FirstBurstLength, §13.14), and up to 1 MiB per R2T
 * (MaxBurstLength, §13.13). A write of up to 1 MiB (the backstores' hw_max_sectors)
 * then takes no R2T round trip through the portal's relay when the initiator offers
 * 1 MiB too, and one with open-iscsi's default of 256 KiB, instead of LIO's default
 * of one per 256 KiB (InitialR2T=Yes, 64 KiB, 256 KiB). They are offers: the
 * initiator's InitialR2T=Yes or smaller lengths win (the lesser is negotiated). LIO
 * allocates a command's whole data buffer from its CDB either way, so unsolicited data
 * adds no memory.
 * MaxBurstLength is written before FirstBurstLength, so the first never drops below
 * the second (§13.14) on the way from LIO's defaults.
 * Data segments: LIO declares MaxRecvDataSegmentLength 8192 unless told (§13.12), so
 * an initiator sends immediate data and Data-Out in 8 KiB PDUs: 128 of them per
 * 1 MiB write, each header read by the portal's PDU filter and each segment too short
 * for the relay to splice (relay.h, RELAY_SPLICE_MIN). 256 KiB (open-iscsi's own
 * default for the other direction) makes a 1 MiB write four PDUs whose segments go
 * socket to socket. LIO receives them straight into the command's data buffer (sized
 * from the CDB, at most hw_max_sectors). The PDUs that are held whole are unchanged:
 * LIO bounds a Text Request by its MaxXmitDataSegmentLength (262144) either way
 * (K:iscsi/iscsi_target.c, iscsit_setup_text_cmd), the portal's filter by
 * PDUFILTER_HOLD_MAX.
 */
static const struct tpg_attr tpg_params[] = {
	{ "HeaderDigest", "CRC32C,None" },
	{ "DataDigest", "CRC32C,None" },
	{ "MaxConnections", "1" },
	{ "InitialR2T", "No" },
	{ "MaxBurstLength", "1048576" },
	{ "FirstBurstLength", "1048576" },
	{ "MaxRecvDataSegmentLength", "262144" },
};

/*
 * Demo mode with one-way CHAP (docs/provisioned.md, lio-tcmu-facts.md §3.1): every
 * initiator that passes CHAP gets a dynamic ACL seeing every TPG LUN read-write; the
 * TPG is not listed to SendTargets of initiators without an ACL (the portal answers
 * discovery anyway). auth/userid and auth/password are written after these.
 */
static const struct tpg_attr demo_attrs[] = {
	{ "generate_node_acls", "1" },
	{ "cache_dynamic_acls", "1" },
	{ "demo_mode_write_protect", "0" },
	{ "prod_mode_write_protect", "0" },
	{ "demo_mode_discovery", "0" },
	{ "authentication", "1" },
};

/* "A.B.C.D:PORT" or "[v6]:PORT", port 1-65535, as the np mkdir parses it. */
static int check_portal(struct cfs *c, const char *portal)
{
	char addr[CFS_PORTAL_MAX + 1];
	unsigned char bin[16];
	const char *colon, *p;
	unsigned long port = 0;
	size_t n;
	int v6;

	if (!portal || !*portal)
		return cfs_fail(c, -EINVAL, "portal is empty");
	if (strlen(portal) > CFS_PORTAL_MAX)
		return cfs_fail(c, -ENAMETOOLONG, "portal '%.40s...' is too long", portal);
	v6 = portal[0] == '[';
	if (v6) {
		const char *end = strstr(portal, "]:");

		if (!end)
			return cfs_fail(c, -EINVAL, "portal '%s': expected [IPv6]:PORT", portal);
		n = (size_t)(end - portal - 1);
		memcpy(addr, portal + 1, n);
		colon = end + 1;
	} else {
		colon = strrchr(portal, ':');
		if (!colon)
			return cfs_fail(c, -EINVAL, "portal '%s': expected ADDRESS:PORT", portal);
		n = (size_t)(colon - portal);
		memcpy(addr, portal, n);
	}
	addr[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
		return cfs_fail(c, -EINVAL, "portal '%s': '%s' is not an IPv%d address", portal,
				addr, v6 ? 6 : 4);
	p = colon + 1;
	if (!*p || (*p == '0' && p[1]))
		return cfs_fail(c, -EINVAL, "portal '%s': bad port", portal);
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return cfs_fail(c, -EINVAL, "portal '%s': bad port", portal);
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port < 1 || port > 65535)
		return cfs_fail(c, -EINVAL, "portal '%s': port out of range", portal);
	return 0;
}

/* Write val unless the attribute already reads val (idempotent, and avoids the
 * kernel's -EINVAL for enabling an already active TPG: iscsit_tpg_enable_portal_group). */
static int ensure_attr(struct cfs *c, const char *tpg, const char *attr, const char *val)
{
	return cfs_ensure(c, val, "%s/%s", tpg, attr);
}

void cfs_set_ensure_ttl_ms(struct cfs *c, unsigned ttl_ms)
{
	c->ensure_ttl_ms = ttl_ms;
}

/* The remembered verification of (iqn, portal, attrs) (struct cfs_ensured), or NULL. */
static struct cfs_ensured *ensured_of(struct cfs *c, const char *iqn, const char *portal,
				      const void *attrs)
{
	for (size_t i = 0; i < CFS_ENSURED_MAX; i++) {
		struct cfs_ensured *e = &c->ensured[i];

		if (e->attrs == attrs && !strcmp(e->iqn, iqn) && !strcmp(e->portal, portal))
			return e;
	}
	return NULL;
}

static void ensured_forget(struct cfs *c, const char *iqn);

/* Remember that (iqn, portal, attrs) was verified now, in place of the oldest; what was
 * remembered of iqn with other settings no longer holds. */
static void ensured_note(struct cfs *c, const char *iqn, const char *portal,
			 const void *attrs)
{
	struct cfs_ensured *e = &c->ensured[0];

	ensured_forget(c, iqn);
	if (strlen(iqn) > CFS_IQN_MAX || strlen(portal) > CFS_PORTAL_MAX)
		return;
	for (size_t i = 1; i < CFS_ENSURED_MAX; i++) /* an empty slot (at_ms 0) or the oldest */
		if (c->ensured[i].at_ms < e->at_ms)
			e = &c->ensured[i];
	snprintf(e->iqn, sizeof(e->iqn), "%s", iqn);
	snprintf(e->portal, sizeof(e->portal), "%s", portal);
	e->attrs = attrs;
	e->at_ms = monotime_ms();
}

/* Forget every remembered verification of target iqn. */
static void ensured_forget(struct cfs *c, const char *iqn)
{
	for (size_t i = 0; i < CFS_ENSURED_MAX; i++)
		if (!strcmp(c->ensured[i].iqn, iqn))
			c->ensured[i] = (struct cfs_ensured){ 0 };
}

/* cfs_target_ensure and cfs_target_ensure_demo: attrs[n], then CHAP when user != NULL. */
static int target_ensure(struct cfs *c, const char *iqn, const char *portal,
			 const struct tpg_attr *attrs, size_t n, const char *user,
			 const char *secret)
{
	char tpg[PATH_MAX];
	bool created = false;
	struct cfs_ensured *e;
	size_t i;
	int r;

	r = cfs_tpg_path(c, iqn, false, tpg);
	if (!r)
		r = check_portal(c, portal);
	if (r)
		return r;
	/* Verified lately with the same settings (CFS_ENSURE_TTL_MS; never with CHAP,
	 * whose secret is not kept): its TPG still being there is enough. */
	e = user ? NULL : ensured_of(c, iqn, portal, attrs);
	if (e && monotime_ms() - e->at_ms < (int64_t)c->ensure_ttl_ms &&
	    cfs_is_dir(c, "%s", tpg))
		return 0;
	r = cfs_mkdir_p(c, NULL, "iscsi");
	if (!r)
		r = cfs_mkdir(c, &created, "iscsi/%s", iqn);
	if (!r)
		r = cfs_mkdir(c, NULL, "%s", tpg);
	if (!r)
		r = cfs_make_groups(c, tpg, cfs_tpg_groups);
	if (!r)
		r = cfs_mkdir(c, NULL, "%s/np/%s", tpg, portal);
	for (i = 0; !r && i < n; i++) {
		char attr[64];

		snprintf(attr, sizeof(attr), "attrib/%s", attrs[i].name);
		r = ensure_attr(c, tpg, attr, attrs[i].val);
	}
	for (i = 0; !r && i < sizeof(tpg_params) / sizeof(tpg_params[0]); i++) {
		char param[64];

		snprintf(param, sizeof(param), "param/%s", tpg_params[i].name);
		r = ensure_attr(c, tpg, param, tpg_params[i].val);
	}
	if (!r && user)
		r = ensure_attr(c, tpg, "auth/userid", user);
	if (!r && user)
		r = ensure_attr(c, tpg, "auth/password", secret);
	if (!r)
		r = ensure_attr(c, tpg, "enable", "1");
	if (r && created) {
		c->err_hold++;
		cfs_target_remove(c, iqn);
		c->err_hold--;
	}
	if (!r && !user)
		ensured_note(c, iqn, portal, attrs);
	else
		ensured_forget(c, iqn);
	return r;
}

int cfs_target_ensure(struct cfs *c, const char *iqn, const char *portal)
{
	return target_ensure(c, iqn, portal, tpg_attrs, sizeof(tpg_attrs) / sizeof(tpg_attrs[0]),
			     NULL, NULL);
}

int cfs_target_ensure_ro(struct cfs *c, const char *iqn, const char *portal)
{
	return target_ensure(c, iqn, portal, ro_attrs, sizeof(ro_attrs) / sizeof(ro_attrs[0]),
			     NULL, NULL);
}

int cfs_target_ensure_auth(struct cfs *c, const char *iqn, const char *portal)
{
	return target_ensure(c, iqn, portal, auth_attrs,
			     sizeof(auth_attrs) / sizeof(auth_attrs[0]), NULL, NULL);
}

int cfs_target_ensure_demo(struct cfs *c, const char *iqn, const char *portal,
			   const char *chap_user, const char *chap_secret)
{
	int r = cfs_check_chap(c, chap_user, chap_secret);

	if (r)
		return r;
	return target_ensure(c, iqn, portal, demo_attrs,
			     sizeof(demo_attrs) / sizeof(demo_attrs[0]), chap_user, chap_secret);
}

/* Tear down one TPG dir: disable, ACLs, LUNs, portals, then the TPG itself. */
static int tpg_remove(struct cfs *c, const char *tpg)
{
	struct cfs_names names;
	char rel[PATH_MAX], cur[16];
	uint64_t *luns;
	size_t i, n;
	int r;

	/* Disabling first ends the TPG's sessions cleanly, as rtslib's TPG.delete does. */
	c->err_hold++;
	r = cfs_read(c, cur, sizeof(cur), "%s/enable", tpg);
	c->err_hold--;
	if (!r && !strcmp(cur, "1")) {
		r = cfs_write(c, "0", "%s/enable", tpg);
		if (r)
			return r;
	}
	r = cfs_rel(c, rel, sizeof(rel), "%s/acls", tpg);
	if (!r)
		r = cfs_list(c, &names, CFS_DIRS, rel);
	if (r)
		return r;
	for (i = 0; !r && i < names.n; i++)
		r = cfs_acl_remove_at(c, tpg, names.v[i]);
	cfs_names_free(&names);
	if (r)
		return r;
	r = cfs_rel(c, rel, sizeof(rel), "%s/lun", tpg);
	if (!r)
		r = cfs_list_indexes(c, rel, "lun_", &luns, &n);
	if (r)
		return r;
	for (i = 0; !r && i < n; i++)
		r = cfs_lun_remove_at(c, tpg, luns[i]);
	free(luns);
	if (r)
		return r;
	r = cfs_rel(c, rel, sizeof(rel), "%s/np", tpg);
	if (!r)
		r = cfs_list(c, &names, CFS_DIRS, rel);
	if (r)
		return r;
	for (i = 0; !r && i < names.n; i++) {
		char np[PATH_MAX];

		r = cfs_rel(c, np, sizeof(np), "%s/np/%s", tpg, names.v[i]);
		if (!r)
			r = cfs_rmdir_obj(c, np, cfs_no_groups);
	}
	cfs_names_free(&names);
	if (r)
		return r;
	return cfs_rmdir_obj(c, tpg, cfs_tpg_groups);
}

int cfs_target_remove(struct cfs *c, const char *iqn)
{
	char tgt[PATH_MAX], tpg[PATH_MAX];
	uint64_t *tpgts;
	size_t i, n;
	int r;

	r = cfs_check_name(c, "target IQN", iqn, CFS_IQN_MAX);
	if (!r)
		r = cfs_rel(c, tgt, sizeof(tgt), "iscsi/%s", iqn);
	if (!r)
		r = cfs_ready(c);
	if (r)
		return r;
	ensured_forget(c, iqn);
	if (!cfs_is_dir(c, "%s", tgt))
		return 0;
	r = cfs_list_indexes(c, tgt, "tpgt_", &tpgts, &n);
	if (r)
		return r;
	for (i = 0; !r && i < n; i++) {
		r = cfs_rel(c, tpg, sizeof(tpg), "%s/tpgt_%" PRIu64, tgt, tpgts[i]);
		if (!r)
			r = tpg_remove(c, tpg);
	}
	free(tpgts);
	if (r)
		return r;
	return cfs_rmdir_obj(c, tgt, cfs_no_groups);
}

int cfs_list_targets(struct cfs *c, cfs_name_cb cb, void *arg)
{
	struct cfs_names names;
	size_t i;
	int r;

	r = cfs_list_target_dirs(c, &names);
	if (r)
		return r;
	for (i = 0; i < names.n; i++)
		if (cb(names.v[i], arg))
			break;
	cfs_names_free(&names);
	return 0;
}

int cfs_target_login_accepts(struct cfs *c, const char *iqn, uint64_t *accepts)
{
	char buf[32], *end;
	unsigned long long v;
	int r;

	r = cfs_read(c, buf, sizeof(buf), "iscsi/%s/fabric_statistics/iscsi_login_stats/accepts",
		     iqn);
	if (r < 0)
		return r;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	*accepts = v;
	return 0;
}
