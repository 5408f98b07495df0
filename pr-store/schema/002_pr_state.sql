-- 002_pr_state.sql — Persistent Reservation state per provisioned LUN (issue 4,
-- docs/persistent-reservations.md). Written by scsipub-prstore (pr-store/) from LIO's
-- APTPL file after every PR change; read by scsipub-api to restore a target.
-- aptpl is the kernel's text as captured (configfs-manager/aptpl.h); generation is
-- the device's PRgeneration (SPC-4 §6.16.2) read from configfs with it.
CREATE TABLE pr_state (
  session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  lun        integer NOT NULL CHECK (lun >= 0 AND lun < 256),
  generation bigint NOT NULL CHECK (generation >= 0 AND generation <= 4294967295),
  aptpl      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, lun)
);
