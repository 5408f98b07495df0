-- 003_account_chap.sql — an account's iSCSI credentials (issue 11): the one-way CHAP
-- secret every login to the account's private images (iqn...:p.<id>.<name>) must
-- pass; the CHAP user name is the account's name. NULL until first asked for
-- (GET /api/account/iscsi) or until the account's first image is ready; rotated by
-- POST /api/account/iscsi. scsipub-api writes it to <state>/images/<id>/iscsi-chap
-- for scsipub-cfgd (common/acctchap.h).
ALTER TABLE accounts ADD COLUMN chap_secret text
  CHECK (chap_secret IS NULL OR chap_secret ~ '^[A-Za-z0-9]{12,64}$');
