-- Strongroom metadata schema, version 3: key rotation.

-- Automatic rotation: whether it is on, its period in days and the next date (epoch seconds), and how
-- many on-demand rotations the key has had (a lifetime quota).
ALTER TABLE kms_keys ADD COLUMN rotation_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kms_keys ADD COLUMN rotation_period INTEGER;
ALTER TABLE kms_keys ADD COLUMN next_rotation REAL;
ALTER TABLE kms_keys ADD COLUMN on_demand_rotations INTEGER NOT NULL DEFAULT 0;
CREATE INDEX kms_keys_rotation_due ON kms_keys (next_rotation) WHERE next_rotation IS NOT NULL;

-- One row per rotation: the material it made current, when, and how (AUTOMATIC or ON_DEMAND). The
-- first material of a key is not a rotation and has no row here.
CREATE TABLE key_rotations (
    region        TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    material_id   TEXT NOT NULL,
    rotation_date REAL NOT NULL,
    rotation_type TEXT NOT NULL,
    PRIMARY KEY (region, key_id, version)
);
