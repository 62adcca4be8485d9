-- Strongroom metadata schema, version 1.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE kms_keys (
    region           TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    creation_date    REAL NOT NULL,
    description      TEXT NOT NULL,
    key_spec         TEXT NOT NULL,
    key_usage        TEXT NOT NULL,
    origin           TEXT NOT NULL,
    key_state        TEXT NOT NULL,
    deletion_date    REAL,
    multi_region     INTEGER NOT NULL,
    current_material INTEGER,
    tags             TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (region, key_id)
);
CREATE INDEX kms_keys_by_account ON kms_keys (account_id, region, key_id);
CREATE INDEX kms_keys_pending_deletion ON kms_keys (deletion_date) WHERE deletion_date IS NOT NULL;

-- Key material, always wrapped under the root of trust.
CREATE TABLE key_materials (
    region      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    material_id TEXT NOT NULL,
    wrapped     BLOB NOT NULL,
    created     REAL NOT NULL,
    PRIMARY KEY (region, key_id, version)
);

CREATE TABLE aliases (
    account_id    TEXT NOT NULL,
    region        TEXT NOT NULL,
    alias_name    TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    creation_date REAL NOT NULL,
    last_updated  REAL NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
);
CREATE INDEX aliases_by_key ON aliases (region, key_id);

-- Access keys; the secret is wrapped under the root of trust.
CREATE TABLE access_keys (
    access_key_id  TEXT PRIMARY KEY,
    wrapped_secret BLOB NOT NULL,
    account_id     TEXT NOT NULL,
    principal_arn  TEXT NOT NULL,
    created        REAL NOT NULL
);

-- Change log read by every worker to invalidate its caches.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    region TEXT NOT NULL,
    name   TEXT NOT NULL,
    at     REAL NOT NULL
);
