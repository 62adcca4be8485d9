"""The KMS model Strongroom ships (``strongroom/protocol/data``) against the installed botocore's.

Strongroom validates requests against its own copy of the model, so installing a newer botocore changes
nothing on the server. But a newer botocore is what clients send with: its new operations, enum values
and members are requests Strongroom will meet. The policy:

* the installed model has nothing the shipped one lacks (the same botocore, or an older one): pass;
* it has something the shipped one lacks (a new operation, enum value or member, or a member that is no
  longer required): **xfail**, listing every difference. Nothing is broken, since such requests fail
  validation the way an older AWS answered them, but moving to the new model is a to-do: copy it into
  ``strongroom/protocol/data`` (see its NOTICE) and make each new value work or answer
  UnsupportedOperationException (``tests/integration/test_model_coverage.py`` checks that over HTTP).

The comparison is by content, not by version number, so it also flags a botocore whose model differs in
any way that widens what a client may send.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from importlib import resources
from typing import Any

import botocore
import pytest
from botocore.loaders import create_loader

from strongroom.domain.keys import KeySpec, KeyUsage, Origin, implemented
from strongroom.errors import UnsupportedOperationException
from strongroom.protocol.model import KMS_MODEL_FILE, ServiceModel, load_kms_model

_DATA = resources.files("strongroom.protocol") / "data"
_REQUIRED = " (required)"


def installed_model() -> ServiceModel:
    """The KMS model of the installed botocore, through botocore's own loader."""
    document: dict[str, Any] = create_loader().load_service_model("kms", "service-2", "2014-11-01")
    return ServiceModel(document)


def facts(model: ServiceModel) -> set[str]:
    """What a model lets a client send or get, one line each: operations, enum values, structure
    members (marked when required)."""
    lines = {f"operation {name}" for name in model.operation_names}
    for name in model.shape_names:
        shape = model.shape(name)
        lines.update(f"enum {name} {value}" for value in shape.get("enum", ()))
        required = set(shape.get("required", ()))
        for member in shape.get("members", {}) if shape.get("type") == "structure" else {}:
            lines.add(f"member {name}.{member}" + (_REQUIRED if member in required else ""))
    return lines


def widening(installed: set[str], shipped: set[str]) -> list[str]:
    """The facts of ``installed`` that let a client send what ``shipped`` does not know. A member that
    ``installed`` requires where ``shipped`` makes it optional narrows what a client sends: not counted."""
    return sorted(
        line
        for line in installed - shipped
        if not (line.endswith(_REQUIRED) and line.removesuffix(_REQUIRED) in shipped)
    )


def test_the_shipped_model_is_the_one_validation_uses() -> None:
    model = load_kms_model()
    assert model.metadata["serviceId"] == "KMS" and model.metadata["apiVersion"] == "2014-11-01"
    assert {"Encrypt", "Decrypt", "GenerateDataKey", "CreateKey"} <= model.operation_names
    assert (_DATA / KMS_MODEL_FILE).is_file()


def test_the_notice_names_the_shipped_file_by_its_checksum() -> None:
    """The NOTICE records where the file came from; its checksum must be that of the file shipped."""
    notice = (_DATA / "NOTICE").read_text()
    digest = hashlib.sha256((_DATA / KMS_MODEL_FILE).read_bytes()).hexdigest()
    assert re.search(r"botocore \d+\.\d+\.\d+", notice)
    assert "Apache License, Version 2.0" in notice
    assert f"sha256 {digest}" in notice, "update data/NOTICE (version and checksum) with the model"


def test_loading_the_model_does_not_import_botocore() -> None:
    script = (
        "import sys; from strongroom.protocol.model import load_kms_model; "
        "from strongroom.protocol.validation import RequestValidator; "
        "RequestValidator(load_kms_model()).validate('ListKeys', {}); "
        "print('botocore' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_installed_botocore_has_nothing_the_shipped_model_lacks() -> None:
    shipped, installed = facts(load_kms_model()), facts(installed_model())
    if not widening(installed, shipped):
        return  # the same model, or an older botocore's: clients send nothing Strongroom has not seen
    ahead, behind = sorted(installed - shipped), sorted(shipped - installed)
    listing = "\n".join([*(f"  + {line}" for line in ahead), *(f"  - {line}" for line in behind)])
    pytest.xfail(
        f"to-do: botocore {botocore.__version__}'s KMS model differs from the one Strongroom ships "
        f"(+ only in botocore's, - only in Strongroom's); ship it and implement or refuse each:\n{listing}"
    )


def test_the_comparison_flags_only_a_newer_model() -> None:
    """The comparison itself, on two tiny models: an older one and a newer one."""
    older = ServiceModel(
        {
            "operations": {"Sign": {}},
            "shapes": {
                "Spec": {"type": "string", "enum": ["A"]},
                "Req": {"type": "structure", "required": ["Who"], "members": {"Who": {}}},
            },
        }
    )
    newer = ServiceModel(
        {
            "operations": {"Sign": {}, "Encapsulate": {}},
            "shapes": {
                "Spec": {"type": "string", "enum": ["A", "B"]},
                "Req": {"type": "structure", "members": {"Who": {}, "Service": {}}},
            },
        }
    )
    assert widening(facts(newer), facts(older)) == [
        "enum Spec B",
        "member Req.Service",
        "member Req.Who",  # no longer required
        "operation Encapsulate",
    ]
    assert sorted(facts(older) - facts(newer)) == ["member Req.Who (required)"]
    assert widening(facts(older), facts(newer)) == []  # an older botocore: nothing to do
    assert widening(facts(newer), facts(newer)) == []


@pytest.mark.parametrize(
    ("kind", "shape", "member"),
    [
        (KeySpec, "KeySpec", "KeySpec"),
        (KeyUsage, "KeyUsageType", "KeyUsage"),
        (Origin, "OriginType", "Origin"),
    ],
)
def test_every_model_value_maps_to_a_member_or_is_unsupported(kind: Any, shape: str, member: str) -> None:
    """What validation admits either is a Strongroom enum member or answers UnsupportedOperationException
    naming it (ML-KEM, ENCAPSULATE_DECAPSULATE in the shipped model), never a ValueError."""
    for value in load_kms_model().shape(shape)["enum"]:
        if value in {m.value for m in kind}:
            assert implemented(kind, value, member) is kind(value)
            continue
        with pytest.raises(UnsupportedOperationException) as caught:
            implemented(kind, value, member)
        assert caught.value.message == f"{member} {value} is not supported by Strongroom yet."
