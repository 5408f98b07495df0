-- 001_init.sql — the provisioned tier's tables (issue 3, docs/provisioned.md).
-- Applied once, in a transaction, by db_migrate (api-server/db.c); schema_version
-- records it.
CREATE TABLE accounts (
  id                 bigserial PRIMARY KEY,
  name               text NOT NULL UNIQUE,
  image_budget_bytes bigint NOT NULL CHECK (image_budget_bytes >= 0),
  created_at         timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 (64 lowercase hex) of an API key is stored.
CREATE TABLE api_keys (
  key_sha256 text PRIMARY KEY CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Private images: <state>/images/<account_id>/<name>.img once ready.
CREATE TABLE images (
  account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9.-]{0,62}$'),
  url         text NOT NULL,
  sha256      text,
  size_bytes  bigint NOT NULL DEFAULT 0,
  state       text NOT NULL CHECK (state IN ('fetching', 'ready', 'failed')),
  bytes_done  bigint NOT NULL DEFAULT 0,
  bytes_total bigint NOT NULL DEFAULT 0,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, name)
);

CREATE TABLE sessions (
  id                 text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{1,32}$'),
  account_id         bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  chap_user          text NOT NULL,
  chap_secret        text NOT NULL,
  persistent         boolean NOT NULL DEFAULT false,
  ttl_s              integer NOT NULL CHECK (ttl_s > 0),
  state              text NOT NULL CHECK (state IN ('live', 'suspended')),
  suspended_at       timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  bytes_written_hint bigint NOT NULL DEFAULT 0
);

-- LUN i of a session = images[i]; kind says where image_name resolves: the account's
-- private images or the catalog ("blank" and the catalog's image.<name> targets).
CREATE TABLE luns (
  session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  lun        integer NOT NULL CHECK (lun >= 0 AND lun < 256),
  image_name text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('private', 'catalog')),
  PRIMARY KEY (session_id, lun)
);
CREATE INDEX luns_image ON luns (image_name);
