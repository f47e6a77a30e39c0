"""Tokens of DynamoDB's expression language, and its syntax-error message.

One lexer serves every expression kind; keywords (AND, SET, ...) are plain
names here and recognised by the parser, case-insensitively, as DynamoDB does.
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn

from kubefn_gateway.dynamodb.errors import ValidationError

MAX_EXPRESSION_BYTES = 4096

NAME = "name"  # a bare attribute name, keyword or function name
NAME_REF = "#"  # an ExpressionAttributeNames placeholder
VALUE_REF = ":"  # an ExpressionAttributeValues placeholder
INDEX = "index"  # the digits of a list index
OPERATOR = "op"
EOF = "eof"

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<nameref>\#[A-Za-z0-9_]+)
  | (?P<valueref>:[A-Za-z0-9_]+)
  | (?P<index>[0-9]+)
  | (?P<op><>|<=|>=|[=<>()\[\],.+\-])
    """,
    re.VERBOSE,
)
_KINDS = {"name": NAME, "nameref": NAME_REF, "valueref": VALUE_REF, "index": INDEX, "op": OPERATOR}


class Token(NamedTuple):
    kind: str
    text: str
    position: int

    @property
    def end(self) -> int:
        return self.position + len(self.text)


def invalid(field: str, detail: str) -> ValidationError:
    """DynamoDB's wording for a refused expression: `Invalid <field>: <detail>`."""
    return ValidationError(f"Invalid {field}: {detail}")


def tokenize(text: str, *, field: str) -> list[Token]:
    """The tokens of `text`, ending with an EOF token; refuses empty or oversized text."""
    if not text.strip():
        raise invalid(field, "The expression can not be empty;")
    size = len(text.encode())
    if size > MAX_EXPRESSION_BYTES:
        raise invalid(
            field,
            f"Expression size has exceeded the maximum allowed size; expression size: {size}",
        )
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            bad = Token(OPERATOR, text[position], position)
            syntax_error(field, text, [*tokens, bad, Token(EOF, "", len(text))], len(tokens))
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(_KINDS[kind], match.group(), position))
        position = match.end()
    tokens.append(Token(EOF, "", len(text)))
    return tokens


def syntax_error(field: str, text: str, tokens: list[Token], index: int) -> NoReturn:
    """Raise DynamoDB's syntax error for `tokens[index]`, quoting the text around it."""
    token = tokens[index]
    start = tokens[index - 1].position if index > 0 else token.position
    following = tokens[index + 1] if index + 1 < len(tokens) else token
    end = following.end if following.kind != EOF else token.end
    shown = "<EOF>" if token.kind == EOF else token.text
    near = text[start:end].strip() if token.kind != EOF else text[start:].strip()
    raise invalid(
        field,
        f'Syntax error; token: "{shown}", near: "{near}", position: {token.position}',
    )
