"""ExpressionAttributeNames and ExpressionAttributeValues of one request.

Every expression of a request (condition, update, projection, ...) resolves
its placeholders through one context, which records what was used so the
caller can refuse unused ones afterwards, as DynamoDB does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubefn_gateway.dynamodb import values as attribute_values
from kubefn_gateway.dynamodb.errors import ValidationError
from kubefn_gateway.dynamodb.expressions.lexer import invalid

_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+")


class ExpressionContext:
    """The placeholders of one request, validated up front, with their use recorded."""

    def __init__(
        self,
        names: Mapping[str, str] | None,
        values: Mapping[str, dict[str, Any]] | None,
    ) -> None:
        self._names = _checked_names(names)
        self._values = _checked_values(values)
        self._used_names: set[str] = set()
        self._used_values: set[str] = set()

    def name(self, placeholder: str, *, field: str) -> str:
        """The attribute name `#placeholder` stands for; refuses an undefined one."""
        try:
            name = self._names[placeholder]
        except KeyError:
            raise invalid(
                field,
                "An expression attribute name used in the document path is not defined; "
                f"attribute name: {placeholder}",
            ) from None
        self._used_names.add(placeholder)
        return name

    def value(self, placeholder: str, *, field: str) -> dict[str, Any]:
        """The attribute value `:placeholder` stands for; refuses an undefined one."""
        try:
            value = self._values[placeholder]
        except KeyError:
            raise invalid(
                field,
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {placeholder}",
            ) from None
        self._used_values.add(placeholder)
        return value

    def check_all_used(self) -> None:
        """Refuse placeholders no expression used (checked once all are parsed)."""
        unused_values = sorted(self._values.keys() - self._used_values)
        if unused_values:
            raise ValidationError(
                "Value provided in ExpressionAttributeValues unused in expressions: "
                f"keys: {{{', '.join(unused_values)}}}"
            )
        unused_names = sorted(self._names.keys() - self._used_names)
        if unused_names:
            raise ValidationError(
                "Value provided in ExpressionAttributeNames unused in expressions: "
                f"keys: {{{', '.join(unused_names)}}}"
            )


def _checked_names(names: Mapping[str, str] | None) -> dict[str, str]:
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise ValidationError("ExpressionAttributeNames must be a map")
    if not names:
        raise ValidationError("ExpressionAttributeNames must not be empty")
    for key, name in names.items():
        if not isinstance(key, str) or not _NAME_KEY.fullmatch(key):
            raise ValidationError(
                f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
            )
        if not isinstance(name, str) or not name:
            raise ValidationError(
                f"ExpressionAttributeNames contains invalid value: Empty attribute name; key: {key}"
            )
    return dict(names)


def _checked_values(values: Mapping[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError("ExpressionAttributeValues must be a map")
    if not values:
        raise ValidationError("ExpressionAttributeValues must not be empty")
    checked: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not _VALUE_KEY.fullmatch(key):
            raise ValidationError(
                f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"'
            )
        try:
            attribute_values.validate_value(value, path=key)
        except ValidationError as error:
            raise ValidationError(
                f"ExpressionAttributeValues contains invalid value: {error.message} for key {key}"
            ) from None
        checked[key] = attribute_values.normalize_value(value)
    return checked
