"""MLflow's run-filter grammar, plus ``OR`` and parentheses, parsed into a small tree.

Grammar (keywords in any case)::

    filter      := or_expr
    or_expr     := and_expr ("OR" and_expr)*
    and_expr    := atom ("AND" atom)*
    atom        := "(" or_expr ")" | comparison
    comparison  := ident op value | ident ["NOT"] "IN" "(" value ("," value)* ")"
                 | ident "IS" ["NOT"] "NULL"
    ident       := [kind "."] key          kind: metrics | params | tags | attributes (and aliases)
    key         := bare word | `back-quoted` | "double-quoted"
    op          := = | != | <> | > | >= | < | <= | LIKE | ILIKE | NOT LIKE | NOT ILIKE

Every syntax error is a :class:`~autolog.errors.FilterSyntaxError` whose ``position`` is the
0-based offset of the offending token.  :func:`compile_filter` turns the tree into a SQLAlchemy
expression (imported lazily: this module is only used by the SQL store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

from autolog.errors import FilterSyntaxError

KIND_ALIASES = {
    "metric": "metrics", "metrics": "metrics",
    "param": "params", "params": "params", "parameter": "params", "parameters": "params",
    "tag": "tags", "tags": "tags",
    "attribute": "attributes", "attributes": "attributes", "attr": "attributes", "run": "attributes",
}
STRING_ATTRIBUTES = {
    "run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage",
    "parent_run_id", "experiment_id",
}
NUMERIC_ATTRIBUTES = {"start_time", "end_time", "created", "Created", "creation_time",
                      "last_update_time"}
RUN_ATTRIBUTES = STRING_ATTRIBUTES | {"start_time", "end_time", "created", "Created"}
EXPERIMENT_ATTRIBUTES = {"name", "experiment_id", "lifecycle_stage", "creation_time",
                         "last_update_time"}
ATTRIBUTE_ALIASES = {"run_uuid": "run_id", "created": "start_time", "Created": "start_time"}
COMPARATORS = {"=", "!=", "<>", ">", ">=", "<", "<=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<backtick>`[^`]*`)
  | (?P<op>!=|<>|>=|<=|=|>|<)
  | (?P<punct>[(),])
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.]))
  | (?P<word>[A-Za-z_][\w.\-/:]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string | backtick | op | punct | number | word | end
    text: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    kind: str  # metrics | params | tags | attributes
    key: str
    op: str  # one of COMPARATORS, "IN", "NOT IN", "IS NULL", "IS NOT NULL"
    value: Any
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # "AND" | "OR"
    items: tuple["Node", ...]


Node = Union[Comparison, BoolOp]


@dataclass(frozen=True)
class OrderClause:
    kind: str
    key: str
    ascending: bool


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise FilterSyntaxError(f"Unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(tok: Token) -> str:
    body = tok.text[1:-1]
    if tok.kind == "backtick":
        return body
    quote = tok.text[0]
    return re.sub(r"\\(.)", r"\1", body.replace(quote * 2, quote))


def _describe(tok: Token) -> str:
    return "the end of the filter" if tok.kind == "end" else repr(tok.text)


class _Parser:
    def __init__(self, text: str, attributes: set[str] = RUN_ATTRIBUTES) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.attributes = attributes

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _kw(self, *words: str) -> bool:
        t = self.tok
        return t.kind == "word" and t.text.upper() in words

    def _next(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def fail(self, expected: str) -> FilterSyntaxError:
        return FilterSyntaxError(f"Expected {expected} but found {_describe(self.tok)}", self.tok.pos)

    def parse_filter(self) -> Node | None:
        if self.tok.kind == "end":
            return None
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail("AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self._kw("OR"):
            self._next()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def and_expr(self) -> Node:
        items = [self.atom()]
        while self._kw("AND"):
            self._next()
            items.append(self.atom())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def atom(self) -> Node:
        if self.tok.kind == "punct" and self.tok.text == "(":
            self._next()
            node = self.or_expr()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.fail("')'")
            self._next()
            return node
        return self.comparison()

    def identifier(self) -> tuple[str, str, int]:
        t = self.tok
        if t.kind in ("backtick", "string"):
            raise self.fail("an identifier such as metrics.<key>, params.<key> or tags.<key>")
        if t.kind != "word" or t.text.upper() in ("AND", "OR", "NOT", "IN", "IS", "LIKE", "ILIKE"):
            raise self.fail("an identifier such as metrics.<key>, params.<key> or tags.<key>")
        self._next()
        head, dot, rest = t.text.partition(".")
        kind = KIND_ALIASES.get(head.lower()) if dot else None
        if kind is None:
            if t.text in self.attributes:
                return "attributes", ATTRIBUTE_ALIASES.get(t.text, t.text), t.pos
            raise FilterSyntaxError(
                f"Invalid identifier {t.text!r}: expected metrics.<key>, params.<key>, tags.<key> "
                "or attributes.<name>",
                t.pos,
            )
        if rest == "":
            q = self.tok
            if q.kind not in ("backtick", "string") or q.pos != t.pos + len(t.text):
                raise self.fail(f"a key after {t.text!r}")
            self._next()
            key = _unquote(q)
        else:
            key = rest
        if kind == "attributes":
            if key not in self.attributes:
                raise FilterSyntaxError(
                    f"Invalid attribute {key!r}: expected one of "
                    f"{', '.join(sorted(a for a in self.attributes if a.islower()))}",
                    t.pos,
                )
            key = ATTRIBUTE_ALIASES.get(key, key)
        return kind, key, t.pos

    def value(self, kind: str, key: str) -> Any:
        t = self.tok
        numeric = kind == "metrics" or (kind == "attributes" and key in NUMERIC_ATTRIBUTES)
        if t.kind == "number":
            self._next()
            return float(t.text) if numeric else t.text
        if t.kind == "string":
            if numeric:
                raise self.fail(f"a number for {kind}.{key}")
            self._next()
            return _unquote(t)
        raise self.fail("a quoted string or a number" if not numeric else "a number")

    def comparison(self) -> Comparison:
        kind, key, pos = self.identifier()
        t = self.tok
        if self._kw("IS"):
            self._next()
            negate = self._kw("NOT")
            if negate:
                self._next()
            if not self._kw("NULL"):
                raise self.fail("NULL")
            self._next()
            return Comparison(kind, key, "IS NOT NULL" if negate else "IS NULL", None, pos)
        op: str
        if self._kw("NOT"):
            self._next()
            if self._kw("IN", "LIKE", "ILIKE"):
                op = "NOT " + self._next().text.upper()
            else:
                raise self.fail("IN, LIKE or ILIKE after NOT")
        elif self._kw("IN", "LIKE", "ILIKE"):
            op = self._next().text.upper()
        elif t.kind == "op":
            op = self._next().text
        else:
            raise self.fail("a comparison operator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, IS)")
        if op == "<>":
            op = "!="
        if op in ("IN", "NOT IN"):
            if kind == "metrics":
                raise FilterSyntaxError("IN is not supported for metrics; use comparisons", t.pos)
            if not (self.tok.kind == "punct" and self.tok.text == "("):
                raise self.fail("'(' starting the list of values")
            self._next()
            values = [self.value(kind, key)]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self._next()
                values.append(self.value(kind, key))
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.fail("',' or ')'")
            self._next()
            return Comparison(kind, key, op, tuple(values), pos)
        if op.endswith("LIKE") and (kind == "metrics" or key in NUMERIC_ATTRIBUTES):
            raise FilterSyntaxError(f"{op} needs a string field, not {kind}.{key}", t.pos)
        return Comparison(kind, key, op, self.value(kind, key), pos)


def parse_filter(text: str | None, attributes: set[str] = RUN_ATTRIBUTES) -> Node | None:
    """Parse a filter string; ``None`` when it is empty.

    ``attributes`` are the names allowed after ``attributes.`` (and bare): runs' by default.

    Raises:
        FilterSyntaxError: with the position of the offending token.
    """
    return _Parser(text or "", attributes).parse_filter()


def parse_order_by(clause: str, attributes: set[str] = RUN_ATTRIBUTES) -> OrderClause:
    """Parse one ``order_by`` item such as ``"metrics.accuracy DESC"``.

    Raises:
        FilterSyntaxError: the clause is not ``<identifier> [ASC|DESC]``.
    """
    p = _Parser(clause, attributes)
    kind, key, _ = p.identifier()
    ascending = True
    if p._kw("ASC", "DESC"):
        ascending = p._next().text.upper() == "ASC"
    if p.tok.kind != "end":
        raise p.fail("ASC, DESC or the end of the order_by clause")
    return OrderClause(kind, key, ascending)


def compile_filter(node: Node, tables: Any) -> Any:
    """Turn a parsed filter into a SQLAlchemy boolean expression over ``tables.runs``.

    ``tables`` has ``runs``, ``params``, ``tags`` and ``latest_metrics`` tables; each comparison on
    a key becomes an ``IN (subquery)`` so that the database does the filtering.
    """
    import sqlalchemy as sa

    if isinstance(node, BoolOp):
        parts = [compile_filter(item, tables) for item in node.items]
        return sa.and_(*parts) if node.op == "AND" else sa.or_(*parts)

    runs = tables.runs
    if node.kind == "attributes":
        return _compare(runs.c[node.key], node.op, node.value, sa)
    table = {"metrics": tables.latest_metrics, "params": tables.params, "tags": tables.tags}[node.kind]
    has_key = sa.select(table.c.run_id).where(table.c.key == node.key)
    if node.op == "IS NULL":
        return runs.c.run_id.not_in(has_key)
    if node.op == "IS NOT NULL":
        return runs.c.run_id.in_(has_key)
    return runs.c.run_id.in_(has_key.where(_compare(table.c.value, node.op, node.value, sa)))


def _compare(column: Any, op: str, value: Any, sa: Any) -> Any:
    if op == "IS NULL":
        return column.is_(None)
    if op == "IS NOT NULL":
        return column.is_not(None)
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    if op == "LIKE":
        return column.like(value)
    if op == "NOT LIKE":
        return column.not_like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "NOT ILIKE":
        return column.not_ilike(value)
    return {
        "=": column.__eq__, "!=": column.__ne__, ">": column.__gt__,
        ">=": column.__ge__, "<": column.__lt__, "<=": column.__le__,
    }[op](value)


def compile_experiment_filter(node: Node, tables: Any) -> Any:
    """Like :func:`compile_filter`, for ``tables.experiments`` (name, tags, creation_time).

    Raises:
        InvalidInputError: a metric or param filter, which experiments do not have.
    """
    import sqlalchemy as sa

    from autolog.errors import InvalidInputError

    if isinstance(node, BoolOp):
        parts = [compile_experiment_filter(i, tables) for i in node.items]
        return sa.and_(*parts) if node.op == "AND" else sa.or_(*parts)
    e = tables.experiments.c
    if node.kind == "tags":
        t = tables.experiment_tags.c
        sub = sa.select(t.experiment_id).where(t.key == node.key)
        if node.op in ("IS NULL", "IS NOT NULL"):
            return e.experiment_id.in_(sub) if node.op == "IS NOT NULL" else e.experiment_id.not_in(sub)
        return e.experiment_id.in_(sub.where(_compare(t.value, node.op, node.value, sa)))
    if node.kind != "attributes":
        raise InvalidInputError(
            f"Experiments can be filtered by name, tags.<key> and creation_time, not "
            f"{node.kind}.{node.key}.")
    column = e[node.key]
    value = node.value
    if node.key == "experiment_id" and value is not None:
        value = [int(v) for v in value] if isinstance(value, tuple) else int(value)
    return _compare(column, node.op, value, sa)
