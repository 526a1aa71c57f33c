"""The compiler: forms in, a content-addressed ``CodeUnit`` of numbered nodes out.

It does three things in one walk over each top-level form:

1. **macro expansion**, calling macros (Flowmetal closures) through the ``host``;
2. **lexical resolution**: each local becomes ``(depth, slot)``, each free name a global;
3. **node building**, numbering nodes in a fixed order so that the same expanded code
   always gets the same numbers.

The unit's identity is the hash of its forms *and every macro expansion made while
compiling them* (numbered in the order the compiler met them), with their spans. Storing
those (``CodeUnit.blob``) lets a later process rebuild exactly the same nodes with
``compile_expanded`` and no macros at all, which is how a snapshot taken days ago finds
its code again. Expansions nested inside a body are recorded too: storing only each
top-level form's outermost expansion would leave a nested ``(when ...)`` unexpandable.

Top-level ``defmacro`` forms, and ``def``s of functions, are also evaluated at compile
time, so a macro can be used (and can call helper functions) below its definition.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from . import nodes as N
from .core.registry import BUILTINS, Builtin
from .data import (
    Keyword,
    List,
    Map,
    Set,
    Span,
    Symbol,
    Vector,
    kw,
    span_of,
    type_name,
)
from .errors import CompileError, FlowmetalError, Thrown
from .fastpath import speed_up
from .printer import pr_str

__all__ = ["compile", "compile_expanded", "Host", "SPECIAL_FORMS"]

SPECIAL_FORMS = (
    "quote", "if", "do", "def", "fn", "let", "loop", "recur", "defmacro", "quasiquote",
    "try", "catch", "finally", "throw",
)
_SPECIAL = frozenset(SPECIAL_FORMS)
_AMP = Symbol("&")
_KEYS, _STRS, _SYMS, _AS, _OR = kw("keys"), kw("strs"), kw("syms"), kw("as"), kw("or")


class Host(Protocol):
    """What the compiler needs from the machine: globals to find macros in, and a way
    to run code now (macro calls, compile-time definitions)."""

    def lookup(self, name: str) -> Any: ...

    def defines(self, name: str) -> bool: ...

    def expand(self, macro: Any, form: Any, args: list[Any]) -> Any: ...

    def define_now(self, node: N.Node) -> None: ...


class _Scope:
    """One environment frame at compile time: its slot names, and what ``recur`` targets."""

    __slots__ = ("parent", "names", "loop", "arity", "fn_boundary")

    def __init__(self, parent: _Scope | None, names: list[str], loop: N.Loop | None = None,
                 fn_boundary: bool = False) -> None:
        self.parent = parent
        self.names = names
        self.loop = loop
        self.arity: N.Arity | None = None
        self.fn_boundary = fn_boundary

    def resolve(self, name: str) -> tuple[int, int] | None:
        scope, depth = self, 0
        while scope is not None:
            names = scope.names
            for i in range(len(names) - 1, -1, -1):
                if names[i] == name:
                    return depth, i
            scope, depth = scope.parent, depth + 1
        return None


class _Compiler:
    def __init__(self, unit: N.CodeUnit, host: Host | None, expand: bool,
                 expansions: dict[int, Any] | None = None) -> None:
        self.unit = unit
        self.host = host
        self.expand_macros = expand
        # n -> the form the n-th possible macro call expanded to: written when expanding,
        # read back by ``compile_expanded`` (which runs no macros).
        self.expansions: dict[int, Any] = {} if expansions is None else expansions
        self.expand_count = 0
        self.fn_name = "<toplevel>"
        self.gensym_counter = 0
        self.last_span: Span | None = None
        self.defined: set[str] = set()
        self.def_name: str | None = None
        self.free: list[N.Global] = []

    # -- errors ------------------------------------------------------------------------

    def error(self, message: str, form: Any) -> CompileError:
        return CompileError(message, span_of(form) or self.last_span)

    # -- entry -------------------------------------------------------------------------

    def toplevel(self, form: Any, out: list[Any]) -> None:
        """Compile one top-level form (splicing top-level ``do``), evaluating definitions now."""
        form = self.macroexpand(form, None)
        if type(form) is List and form and form[0] == Symbol("do"):
            for child in form[1:]:
                self.toplevel(child, out)
            return
        node = self.analyze(form, None, tail=False)
        out.append(form)
        self.unit.toplevel.append(node)
        if self.host is not None and self.expand_macros and isinstance(node, N.Def):
            if node.macro or isinstance(node.init, N.Fn):
                self.host.define_now(node)

    # -- macro expansion ---------------------------------------------------------------

    def macroexpand(self, form: Any, scope: _Scope | None) -> Any:
        while type(form) is List and form and type(form[0]) is Symbol:
            head: Symbol = form[0]
            name = head.full
            if name in _SPECIAL or (scope is not None and scope.resolve(name) is not None):
                return form
            n = self.expand_count
            self.expand_count += 1
            if not self.expand_macros:
                if n not in self.expansions:
                    return form
                form = self.expansions[n]
                continue
            macro = self.host.lookup(name) if self.host else None
            if type(macro).__name__ != "Macro":
                return form
            span = span_of(form)
            try:
                expanded = self.host.expand(macro, form, list(form[1:]))
            except (FlowmetalError, Thrown) as err:
                where = f" at {span}" if span else ""
                why = getattr(err, "message", err)
                raise CompileError(f"error expanding macro {name}{where}: {why}",
                                   span) from None
            form = _stamp_spans(expanded, span)
            self.expansions[n] = form
        return form

    # -- analysis ----------------------------------------------------------------------

    def analyze(self, form: Any, scope: _Scope | None, tail: bool) -> N.Node:
        span = span_of(form)
        if span is not None:
            self.last_span = span
        t = type(form)
        if t is Symbol:
            return self.symbol(form, scope)
        if t is List:
            if not form:
                return N.Const(self.unit, span, self.fn_name, form)
            form = self.macroexpand(form, scope)
            if type(form) is not List:
                return self.analyze(form, scope, tail)
            head = form[0]
            if type(head) is Symbol and head.full in _SPECIAL and (
                scope is None or scope.resolve(head.full) is None
            ):
                return getattr(self, "sf_" + head.full)(form, scope, tail)
            return self.call(form, scope)
        if t is Vector:
            return self.collection(form, scope, "vector", form)
        if t is Map:
            items = [x for kv in form.items() for x in kv]
            return self.collection(form, scope, "hash-map", items)
        if t is Set:
            return self.collection(form, scope, "hash-set", list(form))
        return N.Const(self.unit, span, self.fn_name, form)

    def symbol(self, form: Symbol, scope: _Scope | None) -> N.Node:
        name = form.full
        found = scope.resolve(name) if scope is not None else None
        if found is not None:
            return N.make_local(self.unit, form.span, self.fn_name, found[0], found[1], name)
        node = N.Global(self.unit, form.span, self.fn_name, name)
        self.free.append(node)
        return node

    def collection(self, form: Any, scope: _Scope | None, maker: str, items: Any) -> N.Node:
        span = span_of(form)
        args = tuple(self.analyze(x, scope, False) for x in items)
        if all(type(a) is N.Const for a in args):
            # Built from the items' values, not the form: ['a] holds a, not (quote a).
            return N.Const(self.unit, span, self.fn_name, BUILTINS[maker].fn(
                *(a.const for a in args)))
        fn = N.Const(self.unit, span, self.fn_name, BUILTINS[maker])
        return N.Call(self.unit, span, self.fn_name, fn, args)

    def call(self, form: List, scope: _Scope | None) -> N.Node:
        fn = self.analyze(form[0], scope, False)
        args = tuple(self.analyze(x, scope, False) for x in form[1:])
        node = N.Call(self.unit, span_of(form), self.fn_name, fn, args)
        if node.simple and not self.pure_builtin(fn.name):
            node.simple = False  # a call of a function: stepped, never evaluated eagerly
        return node

    def pure_builtin(self, name: str) -> bool:
        """Is ``name`` (as far as we know now) a pure built-in, fit for eager evaluation?"""
        if name in self.defined or self.host is None:
            return self.host is None and name in BUILTINS and BUILTINS[name].pure
        value = self.host.lookup(name)
        return isinstance(value, Builtin) and value.pure

    def body(self, forms: Any, scope: _Scope | None, tail: bool, span: Span | None) -> N.Node:
        forms = list(forms)
        if not forms:
            return N.Const(self.unit, span, self.fn_name, None)
        if len(forms) == 1:
            return self.analyze(forms[0], scope, tail)
        nodes = [self.analyze(f, scope, False) for f in forms[:-1]]
        nodes.append(self.analyze(forms[-1], scope, tail))
        return N.Do(self.unit, span, self.fn_name, tuple(nodes))

    # -- special forms -----------------------------------------------------------------

    def sf_quote(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        if len(form) != 2:
            raise self.error("quote takes exactly one form", form)
        return N.Const(self.unit, span_of(form), self.fn_name, _strip_spans(form[1]))

    def sf_if(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        if len(form) not in (3, 4):
            raise self.error("if takes a test, a then form and an optional else form", form)
        span = span_of(form)
        test = self.analyze(form[1], scope, False)
        then = self.analyze(form[2], scope, tail)
        else_ = (self.analyze(form[3], scope, tail) if len(form) == 4
                 else N.Const(self.unit, span, self.fn_name, None))
        return N.If(self.unit, span, self.fn_name, test, then, else_)

    def sf_do(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        return self.body(form[1:], scope, tail, span_of(form))

    def sf_def(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        return self.definition(form, scope, macro=False)

    def sf_defmacro(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        if len(form) < 3 or type(form[1]) is not Symbol:
            raise self.error("defmacro takes a name, parameters and a body", form)
        rest = list(form[2:])
        doc = rest.pop(0) if len(rest) > 1 and type(rest[0]) is str else None
        fn_form = _with_span(List((Symbol("fn"), form[1], *rest)), span_of(form))
        doc_part = (doc,) if doc is not None else ()
        return self.definition(List((form[0], form[1], *doc_part, fn_form)), scope, macro=True,
                               span=span_of(form))

    def definition(self, form: List, scope: _Scope | None, macro: bool,
                   span: Span | None = None) -> N.Node:
        span = span or span_of(form)
        if len(form) < 2 or type(form[1]) is not Symbol:
            raise self.error("def takes a symbol name, then an optional doc string and value", form)
        if len(form) > 4 or (len(form) == 4 and type(form[2]) is not str):
            raise self.error("def takes a name, an optional doc string and one value", form)
        name = form[1].full
        self.defined.add(name)
        doc = form[2] if len(form) == 4 else None
        init = None
        if len(form) >= 3:
            saved = self.fn_name
            self.fn_name = name if saved == "<toplevel>" else saved
            init_form = form[-1]
            if type(init_form) is List and init_form and init_form[0] == Symbol("fn"):
                self.def_name = name  # (def f (fn ...)): the fn is called f in traces
            init = self.analyze(form[-1], scope, False)
            self.fn_name = saved
            if isinstance(init, N.Fn) and init.name is None:
                init.name = name
        node = N.Def(self.unit, span, self.fn_name, name, init, doc)
        node.macro = macro
        return node

    def sf_fn(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        span = span_of(form)
        rest = list(form[1:])
        name = None
        if rest and type(rest[0]) is Symbol:
            name = rest.pop(0).full
        if not rest:
            raise self.error("fn needs a parameter vector", form)
        node = N.Fn(self.unit, span, self.fn_name, name)
        outer = scope
        if name is not None:
            node.self_slot = True
            outer = _Scope(scope, [name])
        arities = [rest] if type(rest[0]) is Vector else rest
        saved = self.fn_name
        own = name or self.def_name
        self.def_name = None
        self.fn_name = own or (saved + "/fn" if saved != "<toplevel>" else "fn")
        try:
            for arity_form in arities:
                if type(arity_form) is not List and arity_form is not rest:
                    raise self.error("each arity of fn must be a list: ([params] body...)",
                                     arity_form)
                self.arity(node, list(arity_form), outer, form)
        finally:
            self.fn_name = saved
        return node

    def arity(self, node: N.Fn, parts: list, scope: _Scope | None, form: Any) -> None:
        if not parts or type(parts[0]) is not Vector:
            raise self.error("expected a parameter vector", parts[0] if parts else form)
        params = parts[0]
        fixed, rest_param = _split_rest(params, self, "fn parameters")
        names: list[str] = []
        patterns: list[tuple[int, Any]] = []
        for i, p in enumerate(fixed + ([rest_param] if rest_param is not None else [])):
            if type(p) is Symbol:
                names.append(p.full)
            else:
                names.append(f"p__{i}")
                patterns.append((i, p))
        fn_scope = _Scope(scope, names, fn_boundary=True)
        arity = N.Arity(len(fixed), rest_param is not None, None, _print_params(params),  # type: ignore[arg-type]
                        tuple(names))
        fn_scope.arity = arity
        body_forms = parts[1:]
        if patterns:
            bindings: list[Any] = []
            for i, p in patterns:
                bindings += [p, Symbol(names[i])]
            body_forms = [List((Symbol("let"), Vector(bindings), *body_forms))]
        arity.body = self.body(body_forms, fn_scope, True, span_of(form))
        if rest_param is not None:
            if node.variadic is not None:
                raise self.error("a fn can have only one variadic arity", params)
            node.variadic = arity
        else:
            if len(fixed) in node.fixed:
                raise self.error(f"a fn can't have two arities of {len(fixed)} parameters",
                                 params)
            node.fixed[len(fixed)] = arity
        if node.variadic and any(n > node.variadic.nparams for n in node.fixed):
            raise self.error("a fixed arity can't have more parameters than the variadic one",
                             params)

    def sf_let(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        return self.let(form, scope, tail, N.Let)

    def sf_loop(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        return self.let(form, scope, tail, N.Loop)

    def let(self, form: List, scope: _Scope | None, tail: bool, cls: type) -> N.Node:
        what = form[0].full
        if len(form) < 2 or type(form[1]) is not Vector:
            raise self.error(f"{what} needs a binding vector", form)
        pairs = form[1]
        if len(pairs) % 2:
            raise self.error(f"{what} bindings need an even number of forms", pairs)
        simple: list[tuple[str, Any]] = []
        for i in range(0, len(pairs), 2):
            simple += self.destructure(pairs[i], pairs[i + 1])
        span = span_of(form)
        if cls is N.Loop and len(simple) != len(pairs) // 2:
            # Destructuring in loop: loop over plain temporaries, destructure in a let.
            temps = [Symbol(f"loop__{i}") for i in range(len(pairs) // 2)]
            inner = []
            for i, tmp in enumerate(temps):
                inner += [pairs[2 * i], tmp]
            loop_bindings = [x for i, tmp in enumerate(temps) for x in (tmp, pairs[2 * i + 1])]
            body = List((Symbol("let"), Vector(inner), *form[2:]))
            return self.let(_with_span(List((form[0], Vector(loop_bindings), body)), span),
                            scope, tail, cls)
        names: list[str] = []
        new_scope = _Scope(scope, names)
        inits = []
        for name, init in simple:
            inits.append(self.analyze(init, new_scope, False))
            names.append(name)
        node = cls.__new__(cls)
        if cls is N.Loop:
            new_scope.loop = node
        N.Let.__init__(node, self.unit, span, self.fn_name, tuple(inits),
                       N.Const(self.unit, span, self.fn_name, None), tuple(names))
        node.body = self.body(form[2:], new_scope, True if cls is N.Loop else tail, span)
        return node

    def destructure(self, target: Any, value: Any) -> list[tuple[str, Any]]:
        """Turn one binding pair into plain ``(name, form)`` pairs, in evaluation order."""
        t = type(target)
        if t is Symbol:
            if target.ns is not None:
                raise self.error(f"can't bind a qualified name: {target.full}", target)
            return [(target.full, value)]
        self.gensym_counter += 1
        tmp = f"d__{self.gensym_counter}"
        out = [(tmp, value)]
        tmp_sym = Symbol(tmp)
        span = span_of(target)

        def at(*items: Any) -> List:  # errors in the generated code point at the pattern
            return _with_span(List(items), span)

        if t is Vector:
            fixed, rest, as_name = _split_vector_pattern(target, self)
            for i, sub in enumerate(fixed):
                out += self.destructure(sub, at(Symbol("core/nth"), tmp_sym, i, None))
            if rest is not None:
                out += self.destructure(rest, at(Symbol("core/nthrest"), tmp_sym, len(fixed)))
            if as_name is not None:
                out.append((as_name.full, tmp_sym))
            return out
        if t is Map:
            out[0] = (tmp, at(Symbol("core/seq->map"), value))
            defaults = target.get(_OR, Map())
            if type(defaults) is not Map:
                raise self.error(":or must be a map of defaults", target)

            def get(key: Any, name: Symbol) -> Any:
                default = defaults.get(Symbol(name.name))
                return at(Symbol("core/get"), tmp_sym, key, default)

            for key, val in target.items():
                if key is _AS:
                    out.append((val.full, tmp_sym))
                elif key is _OR:
                    continue
                elif key in (_KEYS, _STRS, _SYMS):
                    if type(val) is not Vector:
                        raise self.error(f"{pr_str(key)} needs a vector of names", val)
                    for name in val:
                        if type(name) not in (Symbol, Keyword):
                            raise self.error(f"{pr_str(key)} takes symbols", name)
                        local = Symbol(name.name)
                        k = (kw(name.full) if key is _KEYS else
                             name.name if key is _STRS else List((Symbol("quote"), local)))
                        out.append((name.name, get(k, local)))
                else:
                    out += self.destructure(key, get(val, key) if type(key) is Symbol else
                                            at(Symbol("core/get"), tmp_sym, val))
            return out
        raise self.error(f"can't bind to a {type_name(target)}: expected a symbol, "
                         "a vector or a map pattern", target)

    def sf_recur(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        if not tail:
            raise self.error("recur can only be used in tail position", form)
        s, depth = scope, 0
        while s is not None and s.loop is None and s.arity is None:
            s, depth = s.parent, depth + 1
        if s is None:
            raise self.error("recur outside of a loop or fn", form)
        args = tuple(self.analyze(x, scope, False) for x in form[1:])
        if s.loop is not None:
            expected = s.loop.size
        else:
            expected = s.arity.nparams + (1 if s.arity.rest else 0)
        if len(args) != expected:
            raise self.error(f"recur expects {expected} arguments, got {len(args)}", form)
        return N.Recur(self.unit, span_of(form), self.fn_name, args, s.loop, s.arity, depth)

    def sf_quasiquote(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        if len(form) != 2:
            raise self.error("quasiquote takes exactly one form", form)
        self.gensym_counter += 1
        expanded = self.quasi(form[1], {}, self.gensym_counter)
        return self.analyze(_with_span(expanded, span_of(form)), scope, tail)

    def quasi(self, form: Any, gensyms: dict[str, Symbol], n: int) -> Any:
        t = type(form)
        if t is Symbol:
            if form.full.endswith("#") and len(form.full) > 1:
                if form.full not in gensyms:
                    gensyms[form.full] = Symbol(f"{form.full[:-1]}__{n}__auto")
                form = gensyms[form.full]
            return List((Symbol("quote"), form))
        if t in (List, Vector, Map, Set):
            if t is List and form and form[0] == Symbol("unquote"):
                return form[1]
            if t is List and form and form[0] == Symbol("unquote-splicing"):
                raise self.error("~@ can only be used inside a list, vector, map or set", form)
            items = [x for kv in form.items() for x in kv] if t is Map else list(form)
            parts = []
            for item in items:
                if type(item) is List and item and item[0] == Symbol("unquote-splicing"):
                    parts.append(item[1])
                else:
                    parts.append(List((Symbol("core/list"), self.quasi(item, gensyms, n))))
            maker = {List: "core/list*", Vector: "core/vector*", Map: "core/map*",
                     Set: "core/set*"}[t]
            return _with_span(List((Symbol(maker), *parts)), span_of(form))
        return form

    def sf_try(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        span = span_of(form)
        body_forms, catch, finally_ = [], None, None
        for part in form[1:]:
            head = part[0] if type(part) is List and part else None
            if head == Symbol("catch"):
                if catch is not None or finally_ is not None:
                    raise self.error("only one catch, before finally, is supported", part)
                catch = part
            elif head == Symbol("finally"):
                if finally_ is not None:
                    raise self.error("only one finally is allowed", part)
                finally_ = part
            elif catch is not None or finally_ is not None:
                raise self.error("catch and finally must come last in try", part)
            else:
                body_forms.append(part)
        body = self.body(body_forms, scope, False, span)
        catch_type, catch_body, catch_name = None, None, None
        if catch is not None:
            parts = list(catch[1:])
            if parts and type(parts[0]) is Keyword:
                catch_type = parts.pop(0)
            if not parts or type(parts[0]) is not Symbol:
                raise self.error("catch takes an optional error :type, a name, then a body",
                                 catch)
            catch_name = parts[0].full
            catch_scope = _Scope(scope, [catch_name])
            catch_body = self.body(parts[1:], catch_scope, False, span_of(catch))
        finally_body = (self.body(finally_[1:], scope, False, span_of(finally_))
                        if finally_ is not None else None)
        return N.Try(self.unit, span, self.fn_name, body, catch_type, catch_body, finally_body,
                     catch_name)

    def sf_catch(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        raise self.error("catch can only be used inside try", form)

    def sf_finally(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        raise self.error("finally can only be used inside try", form)

    def sf_throw(self, form: List, scope: _Scope | None, tail: bool) -> N.Node:
        if len(form) != 2:
            raise self.error("throw takes exactly one value", form)
        return N.Throw(self.unit, span_of(form), self.fn_name, self.analyze(form[1], scope, False))


def _split_rest(params: Vector, c: _Compiler, what: str) -> tuple[list[Any], Any]:
    items = list(params)
    if _AMP in items:
        i = items.index(_AMP)
        if i != len(items) - 2:
            raise c.error(f"& in {what} must be followed by exactly one name", params)
        return items[:i], items[i + 1]
    return items, None


def _split_vector_pattern(pattern: Vector, c: _Compiler) -> tuple[list[Any], Any, Any]:
    items = list(pattern)
    as_name = None
    if len(items) >= 2 and items[-2] is _AS:
        as_name = items[-1]
        if type(as_name) is not Symbol:
            raise c.error(":as must be followed by a name", pattern)
        items = items[:-2]
    fixed, rest = _split_rest(Vector(items), c, "a binding vector")
    return fixed, rest, as_name


def _print_params(params: Vector) -> str:
    from .printer import pr_str

    return pr_str(_strip_spans(params))


def _with_span(form: Any, span: Span | None) -> Any:
    if span is not None and type(form) in (List, Vector, Map) and form.span is None:
        try:
            form.span = span
        except AttributeError:
            pass
    return form


def _stamp_spans(form: Any, span: Span | None) -> Any:
    """A copy of a macro's expansion in which the forms the macro made (those without a
    span) carry the span of the macro call, so errors and stack traces in expanded code
    point at the call, not at ``<unknown>``. Forms that have a span (the call's own
    arguments) are kept as they are. Copied, never stamped in place: an expansion may share
    objects with the macro's constants, and a unit's hash must not depend on what else was
    compiled before it."""
    t = type(form)
    if span is None or t not in (List, Vector, Map, Set) or form.span is not None:
        return form
    if t is Map:
        new = Map((_stamp_spans(k, span), _stamp_spans(v, span)) for k, v in form.items())
    else:
        new = t(_stamp_spans(x, span) for x in form)
    new.span = span
    return new


def _strip_spans(form: Any) -> Any:
    """Constants keep no spans: the same quoted data must hash and print the same."""
    return form


def compile(forms: list[Any], source_name: str, host: Host | None) -> N.CodeUnit:  # noqa: A001
    """Compile top-level ``forms`` read from ``source_name`` into a code unit.

    Raises ``CompileError`` naming file:line:col for the first bad form, and for any
    global name that is used but defined nowhere (not in the unit, not in ``host``).
    """
    unit = N.CodeUnit(source_name)
    c = _Compiler(unit, host, expand=True)
    try:
        for form in forms:
            c.toplevel(form, [])
    except RecursionError:
        raise CompileError("form nested too deeply to compile", c.last_span) from None
    if host is not None:
        for node in c.free:
            if node.name not in c.defined and not host.defines(node.name):
                if node.name in _SPECIAL:
                    raise CompileError(f"{node.name} is a special form, not a value", node.span)
                raise CompileError(f"Unable to resolve symbol: {node.name}", node.span)
    _seal(unit, forms, c.expansions)
    speed_up(unit)
    return unit


def compile_expanded(blob: bytes, source_name: str) -> N.CodeUnit:
    """Rebuild a unit from its stored expanded forms: no macros run, same node numbers."""
    from .snapshot import decode_value

    forms, expansions = decode_value(blob)
    unit = N.CodeUnit(source_name)
    c = _Compiler(unit, None, expand=False, expansions=dict(expansions))
    for form in forms:
        c.toplevel(form, [])
    unit.blob = blob
    unit.hash = hashlib.sha256(blob).hexdigest()
    speed_up(unit)
    return unit


def _seal(unit: N.CodeUnit, forms: list[Any], expansions: dict[int, Any]) -> None:
    from .snapshot import encode_value

    unit.blob = encode_value(Vector((Vector(forms), Map(expansions))), keep_spans=True)
    unit.hash = hashlib.sha256(unit.blob).hexdigest()
