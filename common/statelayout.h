/*
 * statelayout.h — the state directory (--state, default /var/lib/scsipub): which
 * program owns which entry. One list, so no program spells another's paths by hand.
 *
 *   overlays/<sp...>.ovl, .bitmap   anonymous sessions' overlays     scsipub-cfgd (root), 0700
 *   sessions/<id>/lun<N>.ovl ...    provisioned sessions' overlays   scsipub-cfgd (root), 0700
 *   configfs.lock                   flock of configfs sequences      scsipub-cfgd (root)
 *   images/<account>/<name>.img     private images                   scsipub-api (service user)
 *   api/ready                       restore done (start ordering)    scsipub-api
 *   portal/connections.json         live connections (0640)          scsipub-portal (service user)
 *   catalog/                        anonymous catalog (default)      the operator
 *   tls/                            self-signed certificate (lab)    provision.sh
 *   pg/                             local PostgreSQL (lab)           scripts/pg-local.sh
 */
#ifndef SCSIPUB_STATELAYOUT_H
#define SCSIPUB_STATELAYOUT_H

#define STATE_DEFAULT_DIR "/var/lib/scsipub"
#define STATE_OVERLAYS "overlays"
#define STATE_SESSIONS "sessions"
#define STATE_CONFIGFS_LOCK "configfs.lock"
#define STATE_IMAGES "images"
#define STATE_API_DIR "api"
#define STATE_API_READY STATE_API_DIR "/ready"
#define STATE_PORTAL_DIR "portal"
#define STATE_CONNECTIONS STATE_PORTAL_DIR "/connections.json"
#define STATE_CATALOG "catalog"

#endif
