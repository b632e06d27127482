from __future__ import annotations

import json

import pytest
from pydantic import Field

from labinfra.stackconfig import ConfigModel, StackConfigError, parse_config


class Inner(ConfigModel):
    size_gb: int = Field(ge=1)


class Demo(ConfigModel):
    host_name: str
    inner: Inner
    retries: int = 3
    label: str | None = None
    names: list[str] = Field(default_factory=list)


def _getter(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return values.get


def test_camel_case_keys_and_json_objects_are_parsed() -> None:
    config = parse_config(
        Demo,
        "p",
        _getter(
            {
                "hostName": "123",
                "inner": json.dumps({"sizeGb": 2}),
                "retries": "5",
                "label": "7",
                "names": '["a"]',
            }
        ),
    )
    assert config.host_name == "123"
    assert config.label == "7"
    assert config.names == ["a"]
    assert config.inner.size_gb == 2
    assert config.retries == 5


def test_every_problem_is_named_with_its_full_key() -> None:
    with pytest.raises(StackConfigError) as err:
        parse_config(
            Demo,
            "p",
            _getter({"inner": json.dumps({"sizeGb": 0}), "retries": "many", "hostNmae": "x"}),
            secret_keys=["apiToken"],
            present_keys=["inner", "retries", "hostNmae"],
        )
    lines = str(err.value).splitlines()
    assert any(line.strip().startswith("p:hostName: Field required") for line in lines)
    assert any("p:inner.sizeGb:" in line for line in lines)
    assert any("p:retries:" in line for line in lines)
    assert any("p:hostNmae: unknown key" in line for line in lines)
    assert any(
        "p:apiToken: missing secret" in line and "pulumi config set --secret apiToken" in line
        for line in lines
    )


def test_allowed_keys_are_not_typos() -> None:
    config = parse_config(
        Demo,
        "p",
        _getter({"hostName": "a", "inner": '{"sizeGb": 1}', "optionalToken": "x"}),
        present_keys=["hostName", "inner", "optionalToken"],
        allowed_keys=["optionalToken"],
    )
    assert config.host_name == "a"
