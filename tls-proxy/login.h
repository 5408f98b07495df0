/*
 * login.h — Login Request validation and Login Response building
 * (RFC 7143 §11.12 Login Request, §11.13 Login Response, §6 Login Phase).
 *
 * The portal reads the leading Login Request of every connection itself: it decides
 * between answering a discovery session and provisioning + relaying a normal one,
 * and rejects anything malformed with a proper Login Response before LIO sees it.
 */
#ifndef SCSIPUB_LOGIN_H
#define SCSIPUB_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdu.h"
#include "textkeys.h"

/* Login status, Status-Class << 8 | Status-Detail (§11.13.5). */
enum login_status {
	LOGIN_OK = 0x0000,
	LOGIN_INITIATOR_ERROR = 0x0200,
	LOGIN_AUTH_FAILURE = 0x0201,
	LOGIN_AUTHZ_FAILURE = 0x0202,
	LOGIN_TARGET_NOT_FOUND = 0x0203,
	LOGIN_UNSUPPORTED_VERSION = 0x0205,
	LOGIN_TOO_MANY_CONNECTIONS = 0x0206,
	LOGIN_MISSING_PARAMETER = 0x0207,
	LOGIN_SESSION_TYPE_UNSUPPORTED = 0x0209,
	LOGIN_SESSION_NOT_FOUND = 0x020a,
	LOGIN_INVALID_DURING_LOGIN = 0x020b,
	LOGIN_TARGET_ERROR = 0x0300,
	LOGIN_SERVICE_UNAVAILABLE = 0x0301,
	LOGIN_OUT_OF_RESOURCES = 0x0302,
};

/* Login stages, CSG/NSG values (§11.12.3). */
enum login_stage {
	LOGIN_STAGE_SECURITY = 0,
	LOGIN_STAGE_OPERATIONAL = 1,
	LOGIN_STAGE_FULL_FEATURE = 3,
};

#define LOGIN_FLAG_TRANSIT 0x80
#define LOGIN_FLAG_CONTINUE 0x40
#define LOGIN_ISCSI_NAME_MAX 223   /* iSCSI names: 223 bytes (§4.2.7.1) */

/* A decoded Login Request. keys is owned (login_req_free). */
struct login_req {
	bool immediate, transit, cont;
	uint8_t csg, nsg;
	uint8_t version_max, version_min;
	uint8_t isid[6];
	uint16_t tsih, cid;
	uint32_t itt, cmdsn, exp_statsn;
	struct tk_list keys;
	/* Pointers into keys (NULL when absent). */
	const char *initiator;     /* InitiatorName */
	const char *target;        /* TargetName */
	const char *session_type;  /* SessionType */
	bool discovery;            /* SessionType=Discovery */
};

/*
 * Decode and validate a Login Request PDU: opcode (0x03, I bit allowed), versions
 * (only version 0x00: Version-min must be 0, else LOGIN_UNSUPPORTED_VERSION), stages
 * (CSG 0 or 1; with T: NSG 1 or 3 and greater than CSG), no AHS, and the text keys
 * (malformed → LOGIN_INITIATOR_ERROR). Returns LOGIN_OK with *req filled, or the
 * status to answer with (req is then empty) and a reason in why.
 */
uint16_t login_parse(const struct pdu *p, struct login_req *req, char *why, size_t whylen);
void login_req_free(struct login_req *req);

/*
 * Checks for the leading Login Request of a new session (§6.3, §13.5-13.7):
 * no key LIO would read differently (login_check_identity_keys);
 * InitiatorName present and non-empty (else LOGIN_MISSING_PARAMETER) and a valid
 * iSCSI name (<= 223 bytes of [A-Za-z0-9.:_-], else LOGIN_INITIATOR_ERROR);
 * SessionType absent, Normal or Discovery (else LOGIN_SESSION_TYPE_UNSUPPORTED);
 * Normal needs TargetName (LOGIN_MISSING_PARAMETER) that is a valid name; a discovery
 * session cannot name an existing TSIH (LOGIN_SESSION_NOT_FOUND).
 */
uint16_t login_check_leading(const struct login_req *req, char *why, size_t whylen);

/*
 * Keys LIO reads differently from us. The kernel's first-PDU scan
 * (iscsi_target_locate_portal in drivers/target/iscsi/iscsi_target_nego.c, Linux 6.1)
 * takes any key that merely starts with "InitiatorName", "SessionType" or
 * "TargetName" (strncmp over the name's length, the last such key winning) and a
 * SessionType value that starts with "Discovery". A key such as
 * "SessionTypeX=Discovery" would be nothing to us and a discovery session to LIO.
 * Returns LOGIN_OK when no key of l starts with one of those three names unless it
 * is exactly that name, else LOGIN_INITIATOR_ERROR with the key in why. When
 * allow_identity is false (the later PDUs of a login we relay), even the exact
 * names are refused: the identity of a relayed session is fixed by its first PDU.
 */
uint16_t login_check_identity_keys(const struct tk_list *l, bool allow_identity, char *why,
				   size_t whylen);

/*
 * A copy of the leading Login Request p (BHS + data, no AHS: login_parse refuses AHS)
 * whose InitiatorName value is replaced by name, every other key kept in order, and
 * DataSegmentLength set to match (RFC 7143 §11.12; Login PDUs carry no digests).
 * On success *raw (malloc'd, owned by the caller) holds *raw_len wire bytes and 0 is
 * returned; -EINVAL when p has no InitiatorName or keys that do not parse, -ENOMEM.
 */
int login_rewrite_initiator(const struct pdu *p, const char *name, uint8_t **raw,
			    size_t *raw_len);

/* True when s is a plausible iSCSI name we can put into configfs paths. */
bool login_name_ok(const char *s);

/*
 * Fill a Login Response BHS answering the request header req_bhs: opcode 0x23,
 * Version-max/active 0, ISID and ITT echoed, TSIH tsih, StatSN statsn, ExpCmdSN =
 * exp_cmdsn, MaxCmdSN = max_cmdsn, the status, CSG from the request, the given T bit
 * and NSG (only meaningful with T), DataSegmentLength data_len.
 */
void login_response_init(uint8_t bhs[PDU_BHS_LEN], const uint8_t req_bhs[PDU_BHS_LEN],
			 uint16_t status, bool transit, uint8_t nsg, uint16_t tsih,
			 uint32_t statsn, uint32_t exp_cmdsn, uint32_t max_cmdsn,
			 uint32_t data_len);

/*
 * Send a failure Login Response (no data, T=0, TSIH 0, ExpCmdSN = MaxCmdSN = the
 * request's CmdSN) for the request header req_bhs. 0 or -errno.
 */
int login_send_reject(struct pio *io, const uint8_t req_bhs[PDU_BHS_LEN], uint16_t status,
		      uint32_t statsn);

/* "target not found" etc. for logs. */
const char *login_status_str(uint16_t status);

#endif
