"""Reading the policy file: YAML in, a validated `Policy` with its version and hash out.

Any problem, whatever its kind, is one `PolicyError` whose lines read
`<file>: <key path or line>: <message>`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator_core.policy.model import Policy


@dataclass(frozen=True)
class PolicyIssue:
    # A dotted key path (`procurement.threshold`), a `line L, column C`, or "" for the file.
    where: str
    message: str


class PolicyError(Exception):
    """The policy file is missing, is not YAML, or breaks a rule; `issues` says where."""

    def __init__(self, source: str, issues: list[PolicyIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        super().__init__(
            "\n".join(
                f"{source}: {i.where}: {i.message}" if i.where else f"{source}: {i.message}"
                for i in self.issues
            )
        )


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    path: Path
    # sha256 (hex) of the file's bytes: what approvals record to prove which rules applied.
    content_hash: str

    @property
    def version(self) -> str:
        return self.policy.version


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _PolicyYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 numbers and no implicit dates, refusing duplicate keys.

    YAML 1.1 reads `17:30` as the base-60 integer 1050 and `0755` as octal, and PyYAML keeps the
    last of two equal keys silently; each would quietly change a business rule.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_PolicyYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PolicyYamlLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_PolicyYamlLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        # A dot or an exponent is required, so `0123`-like ids stay strings.
        r"^(?:[-+]?(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?"
        r"|[0-9][0-9_]*(?:\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+))"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_policy(path: Path | str) -> LoadedPolicy:
    """Read and validate the policy file at `path`; raises `PolicyError`."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(source, [PolicyIssue("", "file not found")]) from None
    except OSError as exc:
        raise PolicyError(source, [PolicyIssue("", f"cannot read: {exc.strerror}")]) from None
    data = _parse_yaml(source, raw)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, validation_issues(exc)) from None
    return LoadedPolicy(policy=policy, path=path, content_hash=hashlib.sha256(raw).hexdigest())


def _parse_yaml(source: str, raw: bytes) -> dict[str, Any]:
    try:
        data = yaml.load(raw, Loader=_PolicyYamlLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise PolicyError(source, [PolicyIssue(where, f"invalid YAML: {problem}")]) from None
    except yaml.reader.ReaderError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.position})"
        raise PolicyError(source, [PolicyIssue("", message)]) from None
    except yaml.YAMLError as exc:
        raise PolicyError(source, [PolicyIssue("", f"invalid YAML: {exc}")]) from None
    if data is None:
        raise PolicyError(source, [PolicyIssue("", "the file is empty")])
    if not isinstance(data, dict):
        raise PolicyError(source, [PolicyIssue("", "the top level must be a mapping of sections")])
    return data


def validation_issues(exc: ValidationError) -> list[PolicyIssue]:
    """pydantic's errors as issues with dotted key paths, cross-field issues expanded."""
    issues: list[PolicyIssue] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "policy_cross_field":
            for sub_loc, message in error["ctx"]["issues"]:
                issues.append(PolicyIssue(_dotted((*loc, *sub_loc)), message))
            continue
        message = error["msg"].removeprefix("Value error, ")
        if loc and loc[-1] == "[key]":
            loc, message = loc[:-1], f"invalid key: {message}"
        issues.append(PolicyIssue(_dotted(loc) or "<top level>", message))
    return issues


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)
