"""Lark's parse tree to :mod:`taskdsl.syntax` nodes, with the source span of each.

One method per grammar rule, called bottom-up by a loop (not recursion), so a
deeply nested expression is reported (:class:`~taskdsl.parsing.errors.TooDeep`)
rather than exhausting Python's stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import cast

from lark import Token, Tree

from taskdsl import syntax as ast
from taskdsl.parsing.errors import TooDeep, token_span
from taskdsl.parsing.grammar import line_rules, parse_tree
from taskdsl.parsing.literals import number, unquote
from taskdsl.source import Span


def parse_statements(text: str, path: str) -> list[ast.Statement]:
    """A whole text's statements; raises Lark's errors, ``IndentError`` and :class:`TooDeep`."""
    return parse_statements_of(parse_tree(text, "start"), text, path)


def parse_statements_of(tree: Tree, text: str, path: str) -> list[ast.Statement]:
    """The statements of ``tree``, Lark's tree of ``text``; raises :class:`TooDeep`."""
    return cast("list[ast.Statement]", ToAst(path).build(tree, text))  # rule `start`: a list


def _tokens(children: list, kind: str | None = None) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and (kind is None or c.type == kind)]


def _nodes(children: list) -> list:
    return [c for c in children if not isinstance(c, Token)]


# Where a parsed piece lies: line, column, end line, end column, end offset.
_Place = tuple[int, int, int, int, int]

# What ends a line's rule: spaces, line continuations, then Lark's `_NL` token.
END_OF_LINE = re.compile(r"(?:[\t \f]+|\\[\t \f]*\r?\n)*(?:\r?\n[\t ]*|#[^\n]*)+")


def _place(places: list[_Place | None], text: str | None) -> _Place | None:
    """Where a rule lies whose children lie at ``places``: from the first one's start
    to the last one's end (None: nowhere, an empty rule).

    With ``text``, the rule ends a line, and (as in Lark) its span runs over the
    end of the line, blank and comment lines included, to the next code.
    """
    inside = [p for p in places if p is not None] if None in places else places
    if not inside:
        return None
    line, column, end_line, end_column, end_pos = inside[0][0], inside[0][1], *inside[-1][2:]
    if text is not None and (match := END_OF_LINE.match(text, end_pos)):
        newlines = text.count("\n", end_pos, match.end())
        if newlines:
            end_line += newlines
            end_column = match.end() - text.rfind("\n", 0, match.end())
        else:
            end_column += match.end() - end_pos
        end_pos = match.end()
    return line, column, end_line, end_column, end_pos


# How deep applications (or brackets) may nest.  The passes after parsing recurse on
# expressions; this keeps them well inside Python's stack.
MAX_NESTING = 100
MAX_DEPTH = 2 * MAX_NESTING + 10  # parse-tree levels: two per application, and the statement's


class ToAst:
    """Lark's tree to :mod:`taskdsl.syntax` nodes, keeping spans.

    Each rule's method takes the rule's ``meta`` (where it lies, a :data:`_Place`,
    None for an empty rule) and its children, already built.
    """

    def __init__(self, path: str):
        self.path = path

    def build(self, tree: Tree, text: str) -> object:
        """The node for ``tree`` (parsed from ``text``), built bottom-up without recursion.

        Each rule's position is worked out here as Lark's ``propagate_positions``
        would (from its first child's start to its last child's end, a line's rule
        running on over the end of the line), at a fraction of the cost; and Lark's
        ``Transformer`` would recurse, and take twice the time.
        """
        # Per rule: its method (None: keep a Tree) and whether it ends a line.  Keyed by
        # the rule's name as Lark gives it, the same object each time, so lookups are cheap.
        rules: dict[str, tuple[Callable[[_Place | None, list], object] | None, bool]] = {}
        # One frame per open tree: the tree, its children still to visit, and its children
        # built so far with where each lies (None: nowhere).
        stack: list[tuple[Tree, Iterator[Tree | Token], list[object], list[_Place | None]]]
        stack = [(tree, iter(tree.children), [], [])]
        while True:
            node, rest, children, places = stack[-1]
            for child in rest:
                if isinstance(child, Tree):
                    if len(stack) > MAX_DEPTH:
                        raise TooDeep(self._firsttoken_span(child))
                    stack.append((child, iter(child.children), [], []))
                    break
                children.append(child)
                places.append((child.line, child.column, child.end_line, child.end_column,
                               child.end_pos))
            else:  # all its children are built
                stack.pop()
                rule = rules.get(node.data)
                if rule is None:
                    rule = rules[node.data] = (getattr(self, node.data, None),
                                               node.data in line_rules())
                method, ends_line = rule
                place = _place(places, text if ends_line else None)
                result = (method(place, children) if method is not None
                          else Tree(node.data, children))
                if not stack:
                    return result
                stack[-1][2].append(result)
                stack[-1][3].append(place)

    def _span(self, meta: _Place | None) -> Span:
        if meta is None:
            return Span(self.path, 1, 1, 1, 1)
        return Span(self.path, meta[0], meta[1], meta[2], meta[3])

    def _firsttoken_span(self, tree: Tree) -> Span:
        """The span of the first token under ``tree`` (found without recursion)."""
        stack: list[Tree | Token] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, Token):
                return self._tok_span(node)
            stack.extend(reversed(node.children))
        return Span(self.path, 1, 1, 1, 1)

    def _tok_span(self, token: Token) -> Span:
        return token_span(token, self.path)

    # -- small pieces
    def start(self, meta, children):
        return _nodes(children)

    def config_value(self, meta, children):
        return self._value(_nodes(children)[0])

    def number(self, meta, children):
        return number(children[0].value)

    def qualified(self, meta, children):
        if len(children) == 1:  # one name, most often: no join (a tenth of parsing)
            return children[0].value, self._span(meta)
        return ".".join(t.value for t in _tokens(children, "NAME")), self._span(meta)

    def type_expr(self, meta, children):
        name = children[0].value
        dims = [c.value if isinstance(c, Token) else c for c in children[1:]]
        dims = [d for d in dims if d not in ("[", "]", ",")]
        has_brackets = any(isinstance(c, Token) and c.type == "LSQB" for c in children)
        return ast.TypeExpr(name, tuple(dims) if has_brackets else None, self._span(meta))

    def type_list(self, meta, children):
        return _nodes(children)

    def signature(self, meta, children):
        arrow = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "ARROW")
        inputs = next((c for c in children[:arrow] if isinstance(c, list)), [])
        outputs = _nodes(children[arrow:])
        return ast.SigExpr(tuple(inputs), tuple(outputs), bool(_tokens(children, "ELLIPSIS")))

    # -- declarations
    def import_stmt(self, meta, children):
        names = _tokens(children, "NAME")
        strings = _tokens(children, "STRING")
        if strings:
            return ast.Import(names[0].value, unquote(strings[0].value), True, self._span(meta))
        module = names[1].value if len(names) > 1 else None
        return ast.Import(names[0].value, module, False, self._span(meta))

    def type_alias(self, meta, children):
        return ast.TypeAlias(_tokens(children, "NAME")[0].value, _nodes(children)[0], self._span(meta))

    def box_kind(self, meta, children):
        return children[0].value

    def distribution(self, meta, children):
        return ("dist", _tokens(children, "NAME")[0].value)

    def const_value(self, meta, children):
        return ("value", _nodes(children)[0])

    def box_decl(self, meta, children):
        kind = children[0]
        name = _tokens(children, "NAME")[0].value
        sig = next(c for c in children if isinstance(c, ast.SigExpr))
        extras = dict(c for c in children if isinstance(c, tuple))
        return ast.BoxDecl(kind, name, sig, extras.get("dist"), extras.get("value"), self._span(meta))

    def follow_decl(self, meta, children):
        """``learner target = ema(online, 0.99)``: a BoxDecl with an empty signature, which
        elaboration takes from the followed learner."""
        kind = children[0]
        names = _tokens(children, "NAME")
        decay = next((c for c in children if isinstance(c, int | float)), None)
        return ast.BoxDecl(kind, names[0].value, ast.SigExpr((), ()), span=self._span(meta),
                           follow=names[1].value, follows=names[2].value, decay=decay)

    # -- diagrams
    def def_param(self, meta, children):
        types = _nodes(children)
        return ast.Param(children[0].value, types[0] if types else None, self._span(meta))

    def def_params(self, meta, children):
        return tuple(_nodes(children))

    def _diagram_def(self, meta, children):
        keyword = children[0].value
        name = children[1].value
        params = next((c for c in children if isinstance(c, tuple)), None)
        body = next(c for c in children if isinstance(c, list))
        return ast.DiagramDef(keyword, name, params, tuple(body), self._span(meta))

    def def_stmt(self, meta, children):
        return self._diagram_def(meta, children)

    def refine_stmt(self, meta, children):
        return self._diagram_def(meta, children)

    def expr_list(self, meta, children):
        return _nodes(children)

    def args(self, meta, children):
        return _nodes(children)

    def seq(self, meta, children):
        return ast.Seq(tuple(_nodes(children)), self._span(meta))

    def par(self, meta, children):
        return ast.Par(tuple(_nodes(children)), self._span(meta))

    def call(self, meta, children):
        nodes = _nodes(children)
        args = nodes[1] if len(nodes) > 1 else []
        return ast.Call(nodes[0], tuple(args), self._span(meta))

    def group(self, meta, children):
        return _nodes(children)[0]

    def ref(self, meta, children):
        name, _ = children[0]
        args = tuple(_nodes(children[1:]))
        return ast.Ref(name, args, self._span(meta))

    def literal(self, meta, children):
        value = _nodes(children)[0]
        return ast.NumberRef(str(value), (), self._span(meta), value)

    # -- tasks
    def draw(self, meta, children):
        targets, (source, _) = _nodes(children)
        return ast.Draw(tuple(targets), source, self._span(meta))

    def let_stmt(self, meta, children):
        targets, values = _nodes(children)
        return ast.Let(tuple(targets), tuple(values), self._span(meta))

    def trains_clause(self, meta, children):
        refs = tuple(ast.Ref(name, (), span) for name, span in _nodes(children))
        return ast.Trains(refs, self._span(meta))

    def by_clause(self, meta, children):
        items = _nodes(children)
        names = tuple(name for name, _ in items)
        params = tuple(p for _, p in items)
        if len(names) == 1 and not params[0]:  # the plain `by d`, as it always was
            return ast.By(names[0], self._span(meta))
        return ast.By(names[0], self._span(meta), names, params)

    def by_item(self, meta, children):
        nodes = _nodes(children)
        if nodes and isinstance(nodes[0], ast.FnPath):  # `by mypkg.losses:huber`
            return nodes[0].text, ()
        return _tokens(children, "NAME")[0].value, tuple(nodes)

    def fn_path(self, meta, children):
        names = [t.value for t in _tokens(children, "NAME")]
        return ast.FnPath(".".join(names[:-1]) + ":" + names[-1], self._span(meta))

    def equation(self, meta, children):
        nodes = _nodes(children)
        return ast.EquationStmt(tuple(nodes[0]), tuple(nodes[1]), tuple(nodes[2:]), self._span(meta))

    def clause_stmt(self, meta, children):
        return ast.ClauseStmt(tuple(_nodes(children)), self._span(meta))

    def task(self, meta, children):
        return ast.Task(children[1].value, tuple(_nodes(children)), self._span(meta))

    def term(self, meta, children):
        nodes = _nodes(children)
        weight = nodes[0] if len(nodes) == 2 else None
        if isinstance(weight, tuple):  # a name: a pattern's `number` parameter (`lam * b`)
            weight = weight[0]
        name, span = nodes[-1]
        return ast.Term(weight, name, self._span(meta) if weight is not None else span)

    def negated_term(self, meta, children):
        term = self.term(meta, children)
        return ast.Term(term.weight, term.name, term.span, negated=True)

    def objective(self, meta, children):
        return ast.Objective(children[1].value, tuple(_nodes(children)), self._span(meta))

    # -- claims
    def claim(self, meta, children):
        goal, *rest = _nodes(children)
        using = rest[0] if rest else None
        if isinstance(goal, ast.Ref):
            return ast.Claim(children[1].value, goal, (), (), using, self._span(meta))
        lhs, rhs = goal
        return ast.Claim(children[1].value, None, lhs, rhs, using, self._span(meta))

    def claim_goal(self, meta, children):
        name, _ = children[0]
        return ast.Ref(name, (), self._span(meta))

    def claim_equation(self, meta, children):
        lhs, rhs = _nodes(children)
        return tuple(lhs), tuple(rhs)

    def claim_by(self, meta, children):
        return tuple(ast.Ref(name, (), span) for name, span in _nodes(children))

    # -- patterns
    def type_param(self, meta, children):
        names = _tokens(children, "NAME")
        kind = names[1].value if len(names) > 1 else "type"
        return ast.TypeParam(names[0].value, kind, self._span(meta))

    def pattern_types(self, meta, children):
        return tuple(_nodes(children))

    def param_sig(self, meta, children):
        return ast.ParamSig(children[0].value, _nodes(children)[0], self._span(meta))

    def value_param(self, meta, children):
        names = _tokens(children, "NAME")
        default = _nodes(children)[0] if _nodes(children) else None
        return ast.ValueParam(names[0].value, names[1].value, default, self._span(meta))

    def value_params(self, meta, children):
        return list(_nodes(children))  # a list: the pattern's type parameters are a tuple

    def pattern(self, meta, children):
        name = children[1].value
        type_params = next((c for c in children if isinstance(c, tuple)), ())
        values = tuple(next((c for c in children if isinstance(c, list)), ()))
        rpar = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "RPAR")
        params = tuple(t.value for t in _tokens(children[2:rpar], "NAME"))
        items = tuple(c for c in _nodes(children[rpar:]) if not isinstance(c, tuple))
        return ast.Pattern(name, type_params, params, items, self._span(meta), values)

    def use_arg(self, meta, children):
        return ast.UseArg(children[0].value, _nodes(children)[0], self._span(meta))

    def use_stmt(self, meta, children):
        names = _tokens(children, "NAME")
        has_alias = any(isinstance(c, Token) and c.type == "AS" for c in children)
        alias = names[-1].value if has_alias else None
        return ast.Use(names[0].value, tuple(_nodes(children)), alias, self._span(meta))

    # -- implementation
    def string(self, meta, children):
        return ast.Literal(unquote(children[0].value), self._span(meta))

    def boolean(self, meta, children):
        return ast.Literal(children[0].value == "true", self._span(meta))

    def name_value(self, meta, children):
        name, span = children[0]
        return ast.NameValue(name, span)

    def keyword_arg(self, meta, children):
        return (children[0].value, _nodes(children)[0])

    def call_value(self, meta, children):
        (name, _), *rest = _nodes(children)
        args = tuple(self._value(c) for c in rest if not isinstance(c, tuple))
        kwargs = tuple((k, self._value(v)) for k, v in (c for c in rest if isinstance(c, tuple)))
        return ast.CallValue(name, args, kwargs, self._span(meta))

    def list_value(self, meta, children):
        return ast.ListValue(tuple(self._value(c) for c in _nodes(children)), self._span(meta))

    def _value(self, node) -> ast.Value:
        if isinstance(node, int | float):
            return ast.Literal(node, Span(self.path, 1, 1, 1, 1))
        if isinstance(node, ast.FnPath):  # `impl edge = mypkg.fns:edge`: a fixed function
            return ast.NameValue(node.text, node.span)
        return node

    def impl_stmt(self, meta, children):
        return ast.Impl(children[1].value, self._value(_nodes(children)[0]), self._span(meta))

    def data_binding(self, meta, children):
        return ast.DataBinding(children[1].value, self._value(_nodes(children)[0]), self._span(meta))

    def setting(self, meta, children):
        return ast.Setting(children[0].value, self._value(_nodes(children)[0]), self._span(meta))

    def train_block(self, meta, children):
        return ast.Train(children[1].value, tuple(_nodes(children)), self._span(meta))

