"""``strongroom iam ...``: users, roles, access keys and identity policies, shaped like ``aws iam``.

Each command opens the data dir directly (root key file and SQLite database), so it needs no running server
and no credentials; it may run while ``strongroom serve`` serves the same data dir. Every change is appended
to the store's change log and announced through the data dir's epoch file, so a running server honours it
on its next request, without a restart.

Output is the JSON the AWS CLI prints for the same command (4-space indent, ISO-8601 dates); commands that
return nothing print nothing. A failure reported by IAM semantics prints the AWS CLI's one-line error on
stderr and exits with 254, as AWS CLI v2 does when the service answers with an error. A data dir that cannot
be used (not initialized, unreadable root key) exits with 253, AWS CLI v2's code for an
invalid environment; usage errors exit with 2, as every click command does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from strongroom.clock import SystemClock
from strongroom.config import DataDir, default_data_dir
from strongroom.domain.identities import IamPrincipal, PrincipalKind
from strongroom.keystore.file import FileRootOfTrust, RootKeyFileError
from strongroom.service.changes import EpochFile
from strongroom.service.credentials import CredentialStore
from strongroom.service.identities import AccessKeyInfo, IamError, IdentityAdmin, NewAccessKey
from strongroom.storage.sqlite import SqliteStore

__all__ = ["EXIT_ENVIRONMENT", "EXIT_SERVICE_ERROR", "iam"]

EXIT_SERVICE_ERROR: Final = 254  # AWS CLI v2: the service answered with an error
EXIT_ENVIRONMENT: Final = 253  # AWS CLI v2: the environment or configuration is invalid

_F = TypeVar("_F", bound=Callable[..., None])
Output = dict[str, Any] | None


class DataDirUnusable(click.ClickException):
    """The data dir is missing or uninitialized, or its root key is unreadable."""

    exit_code = EXIT_ENVIRONMENT


# -- options ------------------------------------------------------------------------------------------
def _account_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d{12}", value):
        raise click.BadParameter("must be 12 digits")
    return value


def _data_dir_options(command: _F) -> _F:
    """``--data-dir`` and ``--account-id``, taken by every command."""
    command = click.option(
        "--account-id",
        callback=_account_id,
        default=None,
        help="12-digit account whose identities to manage [default: the data dir's account]. Another "
        "account's users and roles may use this account's keys where both sides' policies allow it.",
    )(command)
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory [default: $STRONGROOM_DATA_DIR or ~/.local/share/strongroom].",
    )(command)
    return command


def _policy_document(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A JSON document given inline or, as the AWS CLI accepts, as ``file://PATH`` (or ``fileb://PATH``)."""
    if value is None:
        return None
    for prefix in ("file://", "fileb://"):
        if value.startswith(prefix):
            path = os.path.expanduser(os.path.expandvars(value[len(prefix) :]))
            try:
                with open(path, "rb") as handle:
                    return handle.read().decode("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise click.BadParameter(f"Unable to load paramfile {value}: {error}", param=param) from None
    return value


def _owner(user_name: str | None, role_name: str | None) -> tuple[PrincipalKind, str]:
    """The user or role named by exactly one of ``--user-name`` / ``--role-name``."""
    if user_name is not None and role_name is not None:
        raise click.UsageError("give either --user-name or --role-name, not both")
    if user_name is not None:
        return PrincipalKind.USER, user_name
    if role_name is not None:
        return PrincipalKind.ROLE, role_name
    raise click.UsageError(
        "give --user-name or --role-name (the account root's access key is managed by `strongroom serve`)"
    )


# -- opening the data dir -------------------------------------------------------------------------------
@contextmanager
def open_admin(data_dir: Path | None, account_id: str | None) -> Iterator[IdentityAdmin]:
    """The IAM administration of an initialized data dir; commits wake servers through the epoch file."""
    directory = DataDir((data_dir or default_data_dir()).resolve())
    if not directory.root_key.exists() or not directory.database.exists():
        raise DataDirUnusable(
            f"data dir {directory.path} is not initialized; "
            f"start `strongroom serve --data-dir {directory.path}` once to create it"
        )
    try:
        root = FileRootOfTrust.load(directory.root_key)
    except RootKeyFileError as error:
        raise DataDirUnusable(str(error)) from None
    store = SqliteStore(directory.database, on_commit=EpochFile(directory.epoch).publish)
    try:
        stored_account = store.get_meta("account_id")
        if stored_account is None:
            raise DataDirUnusable(
                f"data dir {directory.path} is not initialized; "
                f"start `strongroom serve --data-dir {directory.path}` once to create it"
            )
        yield IdentityAdmin(store, CredentialStore(store, root), account_id or stored_account, SystemClock())
    finally:
        store.close()


def _run(
    operation: str, data_dir: Path | None, account_id: str | None, action: Callable[[IdentityAdmin], Output]
) -> None:
    """Run one IAM operation; print its AWS CLI output, or its error the way the AWS CLI does."""
    with open_admin(data_dir, account_id) as admin:
        try:
            result = action(admin)
        except IamError as error:
            click.echo(
                f"An error occurred ({error.code}) when calling the {operation} operation: {error.message}",
                err=True,
            )
            raise click.exceptions.Exit(EXIT_SERVICE_ERROR) from None
    if result:
        click.echo(json.dumps(result, indent=4, ensure_ascii=False))


# -- AWS CLI output shapes ------------------------------------------------------------------------------
def _date(timestamp: float) -> str:
    """As the AWS CLI prints IAM dates: ``2026-11-22T21:00:00+00:00``."""
    return datetime.fromtimestamp(int(timestamp), tz=UTC).isoformat()


def _name_key(kind: PrincipalKind) -> str:
    return "UserName" if kind is PrincipalKind.USER else "RoleName"


def _principal(principal: IamPrincipal) -> dict[str, Any]:
    """An IAM ``User`` or ``Role`` structure."""
    id_key = "UserId" if principal.kind is PrincipalKind.USER else "RoleId"
    return {
        "Path": principal.path,
        _name_key(principal.kind): principal.name,
        id_key: principal.principal_id,
        "Arn": principal.arn,
        "CreateDate": _date(principal.created),
    }


def _new_access_key(key: NewAccessKey) -> dict[str, Any]:
    return {
        "AccessKey": {
            _name_key(key.principal.kind): key.principal.name,
            "AccessKeyId": key.access_key_id,
            "Status": "Active",
            "SecretAccessKey": key.secret,
            "CreateDate": _date(key.created),
        }
    }


def _access_key_metadata(key: AccessKeyInfo) -> dict[str, Any]:
    return {
        _name_key(key.principal.kind): key.principal.name,
        "AccessKeyId": key.access_key_id,
        "Status": "Active",
        "CreateDate": _date(key.created),
    }


def _policy(kind: PrincipalKind, name: str, policy_name: str, document: str) -> dict[str, Any]:
    # The AWS CLI decodes IAM's URL-encoded document and prints it as JSON.
    return {_name_key(kind): name, "PolicyName": policy_name, "PolicyDocument": json.loads(document)}


# -- the group --------------------------------------------------------------------------------------------
@click.group()
def iam() -> None:
    """Manage IAM users, roles, access keys and identity policies (like `aws iam`).

    The commands work on the data dir directly and may run while `strongroom serve` serves it: the server
    honours each change on its next request. The data dir must have been initialized by `strongroom serve`.
    Output is the AWS CLI's JSON; errors print the AWS CLI's message and exit with 254 (as AWS CLI v2).
    """


_USER_NAME = click.option("--user-name", required=True, help="Name of the IAM user.")
_ROLE_NAME = click.option("--role-name", required=True, help="Name of the IAM role.")
_POLICY_NAME = click.option("--policy-name", required=True, help="Name of the inline policy.")
_POLICY_DOC = click.option(
    "--policy-document",
    callback=_policy_document,
    metavar="JSON|file://PATH",
    required=True,
    help="The IAM policy document: JSON text, or file://PATH.",
)
_PATH_PREFIX = click.option(
    "--path-prefix", default="/", show_default=True, help="Only those under this path."
)


# -- users ----------------------------------------------------------------------------------------------
@iam.command("create-user")
@_USER_NAME
@click.option("--path", default="/", show_default=True, help="Path of the user (e.g. /division/).")
@_data_dir_options
def create_user(user_name: str, path: str, data_dir: Path | None, account_id: str | None) -> None:
    """Create an IAM user (arn:aws:iam::<account>:user<path><name>)."""
    _run(
        "CreateUser",
        data_dir,
        account_id,
        lambda admin: {"User": _principal(admin.create_principal(PrincipalKind.USER, user_name, path))},
    )


@iam.command("get-user")
@_USER_NAME
@_data_dir_options
def get_user(user_name: str, data_dir: Path | None, account_id: str | None) -> None:
    """Show an IAM user."""
    _run(
        "GetUser",
        data_dir,
        account_id,
        lambda admin: {"User": _principal(admin.get_principal(PrincipalKind.USER, user_name))},
    )


@iam.command("list-users")
@_PATH_PREFIX
@_data_dir_options
def list_users(path_prefix: str, data_dir: Path | None, account_id: str | None) -> None:
    """List the IAM users of the account, by name."""
    _run(
        "ListUsers",
        data_dir,
        account_id,
        lambda admin: {
            "Users": [_principal(p) for p in admin.list_principals(PrincipalKind.USER, path_prefix)]
        },
    )


@iam.command("delete-user")
@_USER_NAME
@_data_dir_options
def delete_user(user_name: str, data_dir: Path | None, account_id: str | None) -> None:
    """Delete an IAM user that has no access keys and no policies left."""
    _run(
        "DeleteUser",
        data_dir,
        account_id,
        lambda admin: admin.delete_principal(PrincipalKind.USER, user_name),
    )


# -- roles ------------------------------------------------------------------------------------------------
@iam.command("create-role")
@_ROLE_NAME
@click.option("--path", default="/", show_default=True, help="Path of the role (e.g. /service/).")
@click.option(
    "--assume-role-policy-document",
    callback=_policy_document,
    metavar="JSON|file://PATH",
    default=None,
    help="Trust policy (JSON text or file://PATH). Checked to be a JSON object, not kept: "
    "Strongroom has no STS, so nothing assumes roles; give the role access keys instead.",
)
@_data_dir_options
def create_role(
    role_name: str,
    path: str,
    assume_role_policy_document: str | None,
    data_dir: Path | None,
    account_id: str | None,
) -> None:
    """Create an IAM role (arn:aws:iam::<account>:role<path><name>)."""
    _run(
        "CreateRole",
        data_dir,
        account_id,
        lambda admin: {
            "Role": _principal(
                admin.create_principal(PrincipalKind.ROLE, role_name, path, assume_role_policy_document)
            )
        },
    )


@iam.command("get-role")
@_ROLE_NAME
@_data_dir_options
def get_role(role_name: str, data_dir: Path | None, account_id: str | None) -> None:
    """Show an IAM role."""
    _run(
        "GetRole",
        data_dir,
        account_id,
        lambda admin: {"Role": _principal(admin.get_principal(PrincipalKind.ROLE, role_name))},
    )


@iam.command("list-roles")
@_PATH_PREFIX
@_data_dir_options
def list_roles(path_prefix: str, data_dir: Path | None, account_id: str | None) -> None:
    """List the IAM roles of the account, by name."""
    _run(
        "ListRoles",
        data_dir,
        account_id,
        lambda admin: {
            "Roles": [_principal(p) for p in admin.list_principals(PrincipalKind.ROLE, path_prefix)]
        },
    )


@iam.command("delete-role")
@_ROLE_NAME
@_data_dir_options
def delete_role(role_name: str, data_dir: Path | None, account_id: str | None) -> None:
    """Delete an IAM role that has no access keys and no policies left."""
    _run(
        "DeleteRole",
        data_dir,
        account_id,
        lambda admin: admin.delete_principal(PrincipalKind.ROLE, role_name),
    )


# -- access keys ------------------------------------------------------------------------------------------
@iam.command("create-access-key")
@click.option("--user-name", default=None, help="The user to create the key for.")
@click.option(
    "--role-name",
    default=None,
    help="The role to create the key for (a Strongroom extension: with no STS here, a role signs "
    "requests with its own access keys).",
)
@_data_dir_options
def create_access_key(
    user_name: str | None, role_name: str | None, data_dir: Path | None, account_id: str | None
) -> None:
    """Create an access key for a user or a role (at most two each).

    The secret access key is printed this once and stored only wrapped under the root key.
    Keys of a role are a Strongroom extension (AWS roles get credentials from STS, which Strongroom
    does not have); their output says RoleName where a user's says UserName.
    """
    kind, name = _owner(user_name, role_name)
    _run(
        "CreateAccessKey",
        data_dir,
        account_id,
        lambda admin: _new_access_key(admin.create_access_key(kind, name)),
    )


@iam.command("list-access-keys")
@click.option("--user-name", default=None, help="The user whose keys to list.")
@click.option("--role-name", default=None, help="The role whose keys to list (Strongroom extension).")
@_data_dir_options
def list_access_keys(
    user_name: str | None, role_name: str | None, data_dir: Path | None, account_id: str | None
) -> None:
    """List the access keys of a user or a role (no secrets)."""
    kind, name = _owner(user_name, role_name)
    _run(
        "ListAccessKeys",
        data_dir,
        account_id,
        lambda admin: {
            "AccessKeyMetadata": [_access_key_metadata(k) for k in admin.list_access_keys(kind, name)]
        },
    )


@iam.command("delete-access-key")
@click.option("--access-key-id", required=True, help="The access key to delete.")
@click.option("--user-name", default=None, help="The user the key belongs to (optional).")
@click.option(
    "--role-name", default=None, help="The role the key belongs to (optional; Strongroom extension)."
)
@_data_dir_options
def delete_access_key(
    access_key_id: str,
    user_name: str | None,
    role_name: str | None,
    data_dir: Path | None,
    account_id: str | None,
) -> None:
    """Delete an access key of a user or role; requests signed with it fail from then on."""
    owner = _owner(user_name, role_name) if user_name is not None or role_name is not None else None
    _run(
        "DeleteAccessKey",
        data_dir,
        account_id,
        lambda admin: admin.delete_access_key(access_key_id, *(owner or (None, None))),
    )


# -- inline identity policies -------------------------------------------------------------------------------
def _policy_commands(kind: PrincipalKind) -> None:
    """put-/get-/list-/delete-{user,role}-policy, which differ only in the principal kind."""
    noun = kind.value  # "user" / "role"
    title = noun.capitalize()
    principal_option = _USER_NAME if kind is PrincipalKind.USER else _ROLE_NAME

    @iam.command(f"put-{noun}-policy")
    @principal_option
    @_POLICY_NAME
    @_POLICY_DOC
    @_data_dir_options
    def put_policy(
        policy_name: str, policy_document: str, data_dir: Path | None, account_id: str | None, **names: str
    ) -> None:
        (name,) = names.values()
        _run(
            f"Put{title}Policy",
            data_dir,
            account_id,
            lambda admin: admin.put_policy(kind, name, policy_name, policy_document),
        )

    @iam.command(f"get-{noun}-policy")
    @principal_option
    @_POLICY_NAME
    @_data_dir_options
    def get_policy(policy_name: str, data_dir: Path | None, account_id: str | None, **names: str) -> None:
        (name,) = names.values()
        _run(
            f"Get{title}Policy",
            data_dir,
            account_id,
            lambda admin: _policy(kind, name, policy_name, admin.get_policy(kind, name, policy_name)),
        )

    @iam.command(f"list-{noun}-policies")
    @principal_option
    @_data_dir_options
    def list_policies(data_dir: Path | None, account_id: str | None, **names: str) -> None:
        (name,) = names.values()
        _run(
            f"List{title}Policies",
            data_dir,
            account_id,
            lambda admin: {"PolicyNames": admin.list_policies(kind, name)},
        )

    @iam.command(f"delete-{noun}-policy")
    @principal_option
    @_POLICY_NAME
    @_data_dir_options
    def delete_policy(policy_name: str, data_dir: Path | None, account_id: str | None, **names: str) -> None:
        (name,) = names.values()
        _run(
            f"Delete{title}Policy",
            data_dir,
            account_id,
            lambda admin: admin.delete_policy(kind, name, policy_name),
        )

    put_policy.help = f"Create or replace an inline identity policy of an IAM {noun}."
    get_policy.help = f"Show an inline identity policy of an IAM {noun}."
    list_policies.help = f"List the inline identity policy names of an IAM {noun}."
    delete_policy.help = f"Delete an inline identity policy of an IAM {noun}."


_policy_commands(PrincipalKind.USER)
_policy_commands(PrincipalKind.ROLE)
