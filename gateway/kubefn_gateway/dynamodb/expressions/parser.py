"""Recursive-descent parsers for condition, update and projection expressions.

Trees are cached by expression text with placeholders unresolved (requests
repeat the same few expressions with different values); `binding` resolves
them per request. Precedence follows DynamoDB: comparisons and functions,
then NOT, then AND, then OR; parentheses group.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn

from kubefn_gateway.dynamodb.expressions import lexer, nodes
from kubefn_gateway.dynamodb.expressions.lexer import invalid
from kubefn_gateway.dynamodb.expressions.reserved import is_reserved

MAX_PATH_DEPTH = 32
MAX_IN_OPERANDS = 100

COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})
CONDITION_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
UPDATE_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")
CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
}
UPDATE_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
_PATH_FIRST = frozenset({"attribute_exists", "attribute_not_exists", "attribute_type"})


@functools.lru_cache(maxsize=1024)
def condition_tree(text: str, field: str) -> nodes.Condition:
    """The tree of a ConditionExpression / FilterExpression / KeyConditionExpression."""
    parser = _Parser(text, field, CONDITION_KEYWORDS)
    tree = parser.condition()
    parser.expect_end()
    return tree


@functools.lru_cache(maxsize=1024)
def update_tree(text: str, field: str = "UpdateExpression") -> tuple[nodes.Action, ...]:
    """The actions of an UpdateExpression, clause by clause."""
    parser = _Parser(text, field, CONDITION_KEYWORDS | set(UPDATE_CLAUSES))
    return parser.update()


@functools.lru_cache(maxsize=1024)
def projection_tree(text: str, field: str = "ProjectionExpression") -> tuple[nodes.Path, ...]:
    """The paths of a ProjectionExpression."""
    parser = _Parser(text, field, CONDITION_KEYWORDS)
    paths = [parser.path()]
    while parser.take_operator(","):
        paths.append(parser.path())
    parser.expect_end()
    return tuple(paths)


class _Parser:
    def __init__(self, text: str, field: str, keywords: frozenset[str] | set[str]) -> None:
        self.text = text
        self.field = field
        self.keywords = keywords
        self.tokens = lexer.tokenize(text, field=field)
        self.index = 0

    # -- token helpers

    def peek(self) -> lexer.Token:
        return self.tokens[self.index]

    def advance(self) -> lexer.Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self) -> NoReturn:
        lexer.syntax_error(self.field, self.text, self.tokens, self.index)

    def at_operator(self, operator: str) -> bool:
        token = self.peek()
        return token.kind == lexer.OPERATOR and token.text == operator

    def take_operator(self, operator: str) -> bool:
        if self.at_operator(operator):
            self.index += 1
            return True
        return False

    def expect_operator(self, operator: str) -> None:
        if not self.take_operator(operator):
            self.fail()

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == lexer.NAME and token.text.upper() == word

    def at_call(self) -> bool:
        if self.peek().kind != lexer.NAME:
            return False
        following = self.tokens[self.index + 1]
        return following.kind == lexer.OPERATOR and following.text == "("

    def expect_end(self) -> None:
        if self.peek().kind != lexer.EOF:
            self.fail()

    # -- paths

    def path(self) -> nodes.Path:
        elements: list[nodes.PathElement] = [self.name_element()]
        while True:
            if self.take_operator("."):
                elements.append(self.name_element())
            elif self.take_operator("["):
                token = self.peek()
                if token.kind != lexer.INDEX:
                    self.fail()
                self.advance()
                self.expect_operator("]")
                elements.append(int(token.text))
            else:
                break
        if len(elements) > MAX_PATH_DEPTH:
            raise invalid(
                self.field,
                f"The document path has too many nesting levels; nesting levels: {len(elements)}",
            )
        return nodes.Path(tuple(elements))

    def name_element(self) -> str:
        token = self.peek()
        if token.kind == lexer.NAME_REF:
            self.advance()
            return token.text
        if token.kind != lexer.NAME or token.text.upper() in self.keywords:
            self.fail()
        if is_reserved(token.text):
            raise invalid(
                self.field, f"Attribute name is a reserved keyword; reserved keyword: {token.text}"
            )
        self.advance()
        return token.text

    # -- conditions

    def condition(self) -> nodes.Condition:
        tree = self.conjunction()
        while self.at_keyword("OR"):
            self.advance()
            tree = nodes.Or(tree, self.conjunction())
        return tree

    def conjunction(self) -> nodes.Condition:
        tree = self.negation()
        while self.at_keyword("AND"):
            self.advance()
            tree = nodes.And(tree, self.negation())
        return tree

    def negation(self) -> nodes.Condition:
        if self.at_keyword("NOT"):
            self.advance()
            return nodes.Not(self.negation())
        return self.primary()

    def primary(self) -> nodes.Condition:
        if self.take_operator("("):
            tree = self.condition()
            self.expect_operator(")")
            return tree
        if self.at_call() and self.peek().text in CONDITION_FUNCTIONS:
            return self.function_condition()
        left = self.operand()
        token = self.peek()
        if token.kind == lexer.OPERATOR and token.text in COMPARATORS:
            self.advance()
            return nodes.Comparison(token.text, left, self.operand())
        if self.at_keyword("BETWEEN"):
            self.advance()
            low = self.operand()
            if not self.at_keyword("AND"):
                self.fail()
            self.advance()
            return nodes.Between(left, low, self.operand())
        if self.at_keyword("IN"):
            self.advance()
            self.expect_operator("(")
            options = self.arguments(self.operand)
            if len(options) > MAX_IN_OPERANDS:
                raise invalid(
                    self.field,
                    "The IN operator is provided with too many operands; "
                    f"number of operands: {len(options)}",
                )
            return nodes.In(left, tuple(options))
        self.fail()

    def function_condition(self) -> nodes.Condition:
        name = self.advance().text
        self.expect_operator("(")
        arguments = self.arguments(self.operand)
        self.check_arity(name, len(arguments), CONDITION_FUNCTIONS[name])
        if name in _PATH_FIRST and not isinstance(arguments[0], nodes.Path):
            raise invalid(
                self.field,
                f"Operator or function requires a document path; operator or function: {name}",
            )
        return nodes.Function(name, tuple(arguments))

    def operand(self) -> nodes.Operand:
        token = self.peek()
        if token.kind == lexer.VALUE_REF:
            self.advance()
            return nodes.Placeholder(token.text)
        if self.at_call():
            name = token.text
            if name == "size":
                self.index += 2
                arguments = self.arguments(self.operand)
                self.check_arity(name, len(arguments), 1)
                if not isinstance(arguments[0], nodes.Path):
                    raise invalid(
                        self.field,
                        "Operator or function requires a document path; "
                        f"operator or function: {name}",
                    )
                return nodes.Size(arguments[0])
            if name in CONDITION_FUNCTIONS:
                raise invalid(
                    self.field,
                    "The function is not allowed to be used this way in an expression; "
                    f"function: {name}",
                )
            if name in UPDATE_FUNCTIONS:
                raise invalid(
                    self.field,
                    f"The function is not allowed in a condition expression; function: {name}",
                )
            raise invalid(self.field, f"Invalid function name; function: {name}")
        return self.path()

    def arguments(self, parse: Callable[[], nodes.Operand]) -> list[nodes.Operand]:
        """Comma-separated operands up to the closing parenthesis (the "(" is consumed)."""
        items = [parse()]
        while self.take_operator(","):
            items.append(parse())
        self.expect_operator(")")
        return items

    def check_arity(self, name: str, count: int, expected: int) -> None:
        if count != expected:
            raise invalid(
                self.field,
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {count}",
            )

    # -- updates

    def update(self) -> tuple[nodes.Action, ...]:
        actions: list[nodes.Action] = []
        seen: set[str] = set()
        while self.peek().kind != lexer.EOF:
            token = self.peek()
            clause = token.text.upper()
            if token.kind != lexer.NAME or clause not in UPDATE_CLAUSES:
                self.fail()
            if clause in seen:
                raise invalid(
                    self.field,
                    f'The "{clause}" section can only be used once in an update expression;',
                )
            seen.add(clause)
            self.advance()
            actions.append(self.action(clause))
            while self.take_operator(","):
                actions.append(self.action(clause))
        return tuple(actions)

    def action(self, clause: str) -> nodes.Action:
        path = self.path()
        if clause == "REMOVE":
            return nodes.Action(clause, path, None)
        if clause == "SET":
            self.expect_operator("=")
            return nodes.Action(clause, path, self.set_value())
        token = self.peek()
        if token.kind != lexer.VALUE_REF:
            self.fail()
        self.advance()
        return nodes.Action(clause, path, nodes.Placeholder(token.text))

    def set_value(self) -> nodes.Operand:
        left = self.update_operand()
        token = self.peek()
        if token.kind == lexer.OPERATOR and token.text in ("+", "-"):
            self.advance()
            return nodes.Arithmetic(token.text, left, self.update_operand())
        return left

    def update_operand(self) -> nodes.Operand:
        token = self.peek()
        if token.kind == lexer.VALUE_REF:
            self.advance()
            return nodes.Placeholder(token.text)
        if not self.at_call():
            return self.path()
        name = token.text
        if name not in UPDATE_FUNCTIONS:
            if name in CONDITION_FUNCTIONS or name == "size":
                raise invalid(
                    self.field,
                    f"The function is not allowed in an update expression; function: {name}",
                )
            raise invalid(self.field, f"Invalid function name; function: {name}")
        self.index += 2
        arguments = self.arguments(self.update_operand)
        self.check_arity(name, len(arguments), UPDATE_FUNCTIONS[name])
        if name == "list_append":
            return nodes.ListAppend(arguments[0], arguments[1])
        if not isinstance(arguments[0], nodes.Path):
            raise invalid(
                self.field,
                f"Operator or function requires a document path; operator or function: {name}",
            )
        return nodes.IfNotExists(arguments[0], arguments[1])
