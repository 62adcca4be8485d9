-- Strongroom metadata schema, version 2: identities, identity policies, key policies, grants.

-- IAM users and roles; the admin identity is the account root and has no row here.
CREATE TABLE iam_principals (
    account_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    path         TEXT NOT NULL,
    arn          TEXT NOT NULL UNIQUE,
    principal_id TEXT NOT NULL,
    created      REAL NOT NULL,
    PRIMARY KEY (account_id, kind, name)
);

-- Inline identity policies (IAM JSON documents), attached to a user or a role.
CREATE TABLE iam_policies (
    account_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account_id, kind, name, policy_name)
);

-- The key policy document as the caller wrote it; NULL means the default key policy.
ALTER TABLE kms_keys ADD COLUMN policy TEXT;

CREATE TABLE grants (
    grant_id           TEXT PRIMARY KEY,
    region             TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    name               TEXT,
    grantee_principal  TEXT NOT NULL,
    retiring_principal TEXT,
    operations         TEXT NOT NULL,
    constraints        TEXT,
    issuing_account    TEXT NOT NULL,
    creation_date      REAL NOT NULL
);
CREATE INDEX grants_by_key ON grants (region, key_id);
CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal);
