"""The reader: every piece of syntax, every error with its position, spans, and deep nesting."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowmetal.lang.data import List, Map, Set, Span, Symbol, Vector, kw, sym
from flowmetal.lang.errors import ReadError
from flowmetal.lang.reader import is_complete, open_depth, read, read_one


def read_error(text: str) -> ReadError:
    with pytest.raises(ReadError) as info:
        read(text, source="t.flow")
    return info.value


def at(error: ReadError) -> tuple[int, int]:
    assert error.span is not None
    return error.span.line, error.span.col


# -- scalars ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("+5", 5),
        ("-0", 0),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_integers_read_as_python_ints(text: str, value: int) -> None:
    [form] = read(text)
    assert type(form) is int and form == value


def test_integer_longer_than_pythons_str_limit_reads() -> None:
    big = 10**5000 - 1  # 5000 nines: past int()'s default 4300-digit limit
    assert read_one("9" * 5000) == big
    assert read_one("-" + "9" * 5000) == -big


@pytest.mark.parametrize(
    "text, value",
    [
        ("1.5", 1.5),
        ("-2e3", -2000.0),
        ("1.", 1.0),
        ("0.25", 0.25),
        ("1E10", 1e10),
        ("2.5e-3", 0.0025),
        ("+1.0", 1.0),
        ("1.e2", 100.0),
        ("0e0", 0.0),
    ],
)
def test_floats_read_as_python_floats(text: str, value: float) -> None:
    [form] = read(text)
    assert type(form) is float and form == value


def test_negative_zero_float_keeps_its_sign() -> None:
    assert math.copysign(1.0, read_one("-0.0")) == -1.0


def test_symbolic_floats_read_as_inf_and_nan() -> None:
    inf, minus_inf, nan = read("##Inf ##-Inf ##NaN")
    assert inf == math.inf and minus_inf == -math.inf and math.isnan(nan)


def test_unknown_symbolic_value_is_an_error() -> None:
    error = read_error("[1 ##Infinity]")
    assert at(error) == (1, 4)
    assert "##Infinity" in error.message and "##Inf, ##-Inf or ##NaN" in error.message


@pytest.mark.parametrize(
    "text, hint",
    [
        ("1abc", "Invalid number '1abc'"),
        ("1/2", "Invalid number '1/2'"),
        ("0x10", "Invalid number '0x10'"),
        ("1e", "Invalid number '1e'"),
        ("1.5.2", "Invalid number '1.5.2'"),
        ("-3x", "Invalid number '-3x'"),
        ("007", "leading zeros are not allowed"),
        ("01.5", "leading zeros are not allowed"),
        (".5", "write 0.5"),
    ],
)
def test_malformed_numbers_are_errors_at_the_token(text: str, hint: str) -> None:
    error = read_error("(f\n  " + text + ")")
    assert at(error) == (2, 3)
    assert hint in error.message
    assert not error.incomplete


def test_nil_true_false_read_as_none_and_bools() -> None:
    assert read("nil true false") == [None, True, False]
    assert [type(x) for x in read("true false")] == [bool, bool]


def test_names_that_start_like_literals_are_symbols() -> None:
    assert read("nil? true-ish falsey") == [sym("nil?"), sym("true-ish"), sym("falsey")]


# -- strings ---------------------------------------------------------------------------------


def test_plain_string() -> None:
    assert read_one('"hello, world"') == "hello, world"


def test_string_escapes() -> None:
    assert read_one(r'"a\nb\tc\rd\"e\\f"') == 'a\nb\tc\rd"e\\f'


def test_unicode_escapes() -> None:
    assert read_one(r'"\u00e9\u0041\uFFFF"') == "\u00e9A\uffff"


def test_surrogate_pair_escapes_make_one_character() -> None:
    assert read_one(r'"\ud83d\ude00"') == "\U0001f600"


def test_lone_surrogate_escape_is_kept_as_is() -> None:
    assert read_one(r'"\ud800x"') == "\ud800x"


def test_strings_may_span_lines_and_hold_brackets() -> None:
    assert read_one('"a (\n] ; b"') == "a (\n] ; b"


def test_non_ascii_text_in_strings_is_kept() -> None:
    assert read_one('"héllo → 世界 😀"') == "héllo → 世界 😀"


def test_invalid_escape_reports_the_backslash() -> None:
    error = read_error('(str\n  "ok" "ab\\qc")')
    assert at(error) == (2, 11)
    assert error.message.startswith("Invalid escape '\\q' in string")
    assert not error.incomplete


def test_invalid_unicode_escape_reports_the_backslash() -> None:
    error = read_error(r'"abc\u12G4"')
    assert at(error) == (1, 5)
    assert "four hex digits" in error.message


def test_unterminated_string_reports_its_opening_quote_and_is_incomplete() -> None:
    error = read_error('(print "hello\nworld)')
    assert at(error) == (1, 8)
    assert error.message == "Expected '\"' to close the string opened at 1:8"
    assert error.incomplete


def test_string_ending_in_a_backslash_is_unterminated() -> None:
    error = read_error('"abc\\')
    assert error.incomplete and at(error) == (1, 1)


# -- keywords and symbols --------------------------------------------------------------------


def test_keywords_read_as_interned_keywords() -> None:
    a, ab, odd = read(":a :http/get :1st")
    assert a is kw("a") and ab is kw("http/get") and odd is kw("1st")
    assert ab.ns == "http" and ab.name == "get"


@pytest.mark.parametrize(
    "text, message",
    [
        (":", "Expected a keyword name after ':'"),
        ("::x", "Auto-resolved keywords such as ::x are not supported"),
        (":a:b", "Unexpected character ':' in keyword ':a:b'"),
        (":a/", "Invalid keyword ':a/'"),
    ],
)
def test_malformed_keywords_are_errors(text: str, message: str) -> None:
    error = read_error(text)
    assert error.message.startswith(message)


@pytest.mark.parametrize(
    "text",
    [
        "x",
        "foo-bar",
        "*earmuffs*",
        "+",
        "-",
        "->",
        "->>",
        "<=",
        "valid?",
        "swap!",
        "a.b.c",
        "..",
        ".method",
        "&",
        "_",
        "x'",
        "x#",
        "%",
        "%1",
        "%&",
        "a*b+c!d-e_f'g?h<i>j=k&l%m",
        "λ",
        "名前",
        "-a",
        "+a",
        "-.5",
    ],
)
def test_symbols(text: str) -> None:
    [form] = read(text)
    assert type(form) is Symbol and form.full == text and form.ns is None


def test_slash_alone_is_a_symbol() -> None:
    form = read_one("/")
    assert form == sym("/") and form.ns is None


def test_namespaced_symbols_split_at_the_slash() -> None:
    form = read_one("str/join")
    assert form.ns == "str" and form.name == "join"
    assert read_one("core//") == Symbol("core//")


@pytest.mark.parametrize(
    "text, col, message",
    [
        ("a$b", 2, "Unexpected character '$' in symbol 'a$b'"),
        ("a|b", 2, "Unexpected character '|'"),
        ("a:b", 2, "Unexpected character ':'"),
        ("a/", 1, "Invalid symbol 'a/'"),
        ("/a", 1, "Invalid symbol '/a'"),
        ("a/b/c", 1, "Invalid symbol 'a/b/c'"),
        ("a\x00", 2, "Unexpected character '\\u0000'"),  # Flowmetal's escape, not Python's
    ],
)
def test_malformed_symbols_are_errors_at_the_bad_character(
    text: str, col: int, message: str
) -> None:
    error = read_error(text)
    assert at(error) == (1, col)
    assert error.message.startswith(message)


def test_symbols_carry_their_spans() -> None:
    first, second = read("foo\n  bar/baz", source="job.flow")
    assert first.span == Span("job.flow", 1, 1, 1, 4)
    assert second.span == Span("job.flow", 2, 3, 2, 10)


def test_columns_count_characters_not_bytes() -> None:
    _, form = read('"héllo" λx')
    assert form.span.col == 9


# -- collections -----------------------------------------------------------------------------


def test_list_vector_map_set_read_as_their_types() -> None:
    lst, vec, mapping, st_ = read("(1 2) [3 4] {:a 1, :b 2} #{5 6}")
    assert type(lst) is List and tuple(lst) == (1, 2)
    assert type(vec) is Vector and tuple(vec) == (3, 4)
    assert type(mapping) is Map and list(mapping.items()) == [(kw("a"), 1), (kw("b"), 2)]
    assert type(st_) is Set and list(st_) == [5, 6]


def test_empty_collections_are_fresh_instances_with_spans() -> None:
    lst, vec, mapping, st_ = read("() [] {} #{}")
    assert (len(lst), len(vec), len(mapping), len(st_)) == (0, 0, 0, 0)
    assert [x.span.col for x in (lst, vec, mapping, st_)] == [1, 4, 7, 10]


def test_map_and_set_keep_insertion_order() -> None:
    assert list(read_one("{:z 1 :a 2 :m 3}")) == [kw("z"), kw("a"), kw("m")]
    assert list(read_one("#{3 1 2}")) == [3, 1, 2]


def test_collections_carry_spans_from_opener_to_past_closer() -> None:
    outer = read_one("(a\n  [b {:c #{1}}])", source="s.flow")
    vec = outer[1]
    mapping = vec[1]
    st_ = mapping[kw("c")]
    assert outer.span == Span("s.flow", 1, 1, 2, 17)
    assert vec.span == Span("s.flow", 2, 3, 2, 16)
    assert mapping.span == Span("s.flow", 2, 6, 2, 15)
    assert st_.span == Span("s.flow", 2, 10, 2, 14)


def test_commas_are_whitespace() -> None:
    assert read_one("[1,2,,, 3 ,]") == Vector([1, 2, 3])


def test_nested_collections_keep_their_types() -> None:
    form = read_one("[(1 [2]) {[3] (4)}]")
    assert type(form[0]) is List and type(form[0][1]) is Vector
    key = next(iter(form[1]))
    assert type(key) is Vector and type(form[1][key]) is List


def test_map_with_odd_forms_reports_the_opening_brace() -> None:
    error = read_error("(def m\n  {:a 1 :b})")
    assert at(error) == (2, 3)
    assert "The map opened at 2:3 has an odd number of forms (3)" in error.message
    assert not error.incomplete


def test_duplicate_map_key_reports_the_second_key() -> None:
    error = read_error("{:a 1\n :b 2\n :a 3}")
    assert at(error) == (3, 2)
    assert error.message == "Duplicate key :a in the map opened at 1:1"


def test_duplicate_set_item_reports_the_second_item() -> None:
    error = read_error('#{"x" [1 2] [1 2]}')
    assert at(error) == (1, 13)
    assert error.message == "Duplicate item [1 2] in the set opened at 1:1"


def test_collections_as_map_keys() -> None:
    form = read_one("{[1 2] :v, #{:s} :s, {:m 1} :m}")
    assert form[Vector([1, 2])] is kw("v")
    assert form[Set([kw("s")])] is kw("s")
    assert form[Map({kw("m"): 1})] is kw("m")


# -- comments and discard --------------------------------------------------------------------


def test_line_comments_run_to_end_of_line() -> None:
    assert read("1 ; (not read\n2 ;; ] neither\n;last") == [1, 2]


def test_shebang_line_is_a_comment() -> None:
    assert read("#!/usr/bin/env flowmetal run\n(go)") == [List([sym("go")])]


def test_discard_skips_the_next_form() -> None:
    assert read("1 #_ 2 3") == [1, 3]
    assert read_one("[1 #_(a b [c]) 2]") == Vector([1, 2])
    assert read_one("{:a 1 #_:b #_2}") == Map({kw("a"): 1})


def test_stacked_discards_skip_one_form_each() -> None:
    assert read("#_ #_ 1 2 3") == [3]


def test_discard_before_a_closer_is_an_error() -> None:
    error = read_error("[1 #_]")
    assert at(error) == (1, 6)
    assert error.message == "Expected a form after discard (#_), found ']'"


def test_discard_at_end_of_input_is_incomplete() -> None:
    error = read_error("1 #_")
    assert error.incomplete and at(error) == (1, 3)


def test_byte_order_mark_and_unicode_spaces_are_whitespace() -> None:
    assert read("\ufeff1\u00a02\u20033") == [1, 2, 3]


# -- reader macros ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, head",
    [
        ("'x", "quote"),
        ("`x", "quasiquote"),
        ("~x", "unquote"),
        ("~@x", "unquote-splicing"),
        ("@x", "deref"),
    ],
)
def test_reader_macros_wrap_the_next_form(text: str, head: str) -> None:
    form = read_one(text)
    assert type(form) is List and form == List([sym(head), sym("x")])


def test_reader_macro_forms_have_spans() -> None:
    form = read_one("(f ~@ (g))")[1]
    assert form.span == Span("<string>", 1, 4, 1, 10)
    assert form[0].span == Span("<string>", 1, 4, 1, 6)


def test_reader_macros_nest() -> None:
    form = read_one("`(a ~b ~@c '@d)")
    quasi, body = form
    assert quasi == sym("quasiquote")
    assert list(body) == [
        sym("a"),
        List([sym("unquote"), sym("b")]),
        List([sym("unquote-splicing"), sym("c")]),
        List([sym("quote"), List([sym("deref"), sym("d")])]),
    ]


def test_quote_then_discard_quotes_the_form_after_the_discarded_one() -> None:
    assert read("'#_ 1 2") == [List([sym("quote"), 2])]


def test_reader_macro_before_a_closer_is_an_error() -> None:
    error = read_error("(f ')")
    assert at(error) == (1, 5)
    assert error.message == "Expected a form after quote ('), found ')'"
    assert not error.incomplete


def test_reader_macro_at_end_of_input_is_incomplete() -> None:
    error = read_error("(f)\n  ~@")
    assert error.incomplete and at(error) == (2, 3)
    assert error.message == "Expected a form after unquote-splicing (~@)"


def test_metadata_is_not_supported() -> None:
    error = read_error("^:private x")
    assert at(error) == (1, 1) and "Metadata" in error.message


# -- #() functions ---------------------------------------------------------------------------


def fn_parts(form: List) -> tuple[Symbol, list[str], List]:
    head, params, body = form
    return head, [p.full for p in params], body


def test_fn_literal_with_percent_becomes_fn_of_one_argument() -> None:
    head, params, body = fn_parts(read_one("#(+ % 1)"))
    assert head == sym("fn") and params == ["%1"]
    assert body == List([sym("+"), sym("%1"), 1]) and type(body) is List


def test_fn_literal_arity_is_the_highest_argument_used() -> None:
    _, params, body = fn_parts(read_one("#(f %3 %1)"))
    assert params == ["%1", "%2", "%3"]
    assert body == List([sym("f"), sym("%3"), sym("%1")])


def test_fn_literal_rest_argument() -> None:
    _, params, _ = fn_parts(read_one("#(apply f % %&)"))
    assert params == ["%1", "&", "%&"]
    _, params, _ = fn_parts(read_one("#(apply f %&)"))
    assert params == ["&", "%&"]


def test_fn_literal_sees_arguments_in_nested_forms() -> None:
    _, params, body = fn_parts(read_one("#(let [x [%2]] {:a '%})"))
    assert params == ["%1", "%2"]
    assert body[2][kw("a")] == List([sym("quote"), sym("%1")])


def test_empty_fn_literal() -> None:
    _, params, body = fn_parts(read_one("#()"))
    assert params == [] and body == List()


def test_fn_literal_spans() -> None:
    form = read_one("(map #(* 2 %) xs)")[1]
    assert form.span == Span("<string>", 1, 6, 1, 14)
    assert form[0].span == Span("<string>", 1, 6, 1, 8)
    assert form[2].span == Span("<string>", 1, 7, 1, 14)


def test_percent_outside_fn_literal_is_an_ordinary_symbol() -> None:
    assert read("% %1 %foo") == [sym("%"), sym("%1"), sym("%foo")]


def test_nested_fn_literals_are_an_error_at_the_inner_one() -> None:
    error = read_error("#(map #(inc %) %)")
    assert at(error) == (1, 7)
    assert error.message.startswith("Nested #() are not allowed")


@pytest.mark.parametrize("arg", ["%0", "%x", "%21", "%01"])
def test_invalid_fn_literal_arguments_are_errors(arg: str) -> None:
    error = read_error(f"#(f {arg})")
    assert at(error) == (1, 5)
    assert error.message.startswith(f"Invalid argument {arg} in #()")


def test_fn_literals_may_follow_each_other() -> None:
    first, second = read("#(a %) #(b %2)")
    assert [p.full for p in first[1]] == ["%1"]
    assert [p.full for p in second[1]] == ["%1", "%2"]


# -- other # forms and unsupported syntax -----------------------------------------------------


def test_character_literals_are_not_supported() -> None:
    error = read_error('(str "a"\n     \\b)')
    assert at(error) == (2, 6)
    assert error.message == "Character literals are not supported; use a one-character string"


@pytest.mark.parametrize(
    "text, message",
    [
        ('#inst "2020"', "Tagged literals such as #inst are not supported"),
        ('#"a+"', "Regex literals"),
        ("#'f", "Var quote"),
        ("#:a{:b 1}", "Namespaced map literals"),
        ("#?(:clj 1)", "Reader conditionals"),
        ("# x", "Unexpected ' ' after '#'"),
        ("#)", "Unexpected ')' after '#'"),
    ],
)
def test_unsupported_dispatch_forms_are_errors(text: str, message: str) -> None:
    error = read_error(text)
    assert at(error) == (1, 1)
    assert error.message.startswith(message)


def test_hash_at_end_of_input_is_incomplete() -> None:
    assert read_error("#").incomplete


# -- brackets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        (")", "Unexpected ')' with no open list"),
        ("]", "Unexpected ']' with no open vector"),
        ("}", "Unexpected '}' with no open map or set"),
    ],
)
def test_stray_closer_is_an_error(text: str, message: str) -> None:
    error = read_error("(a) " + text)
    assert at(error) == (1, 5)
    assert error.message == message
    assert not error.incomplete


def test_mismatched_closer_reports_the_closer_and_the_opener() -> None:
    error = read_error("(let [x 1)")
    assert at(error) == (1, 10)
    assert error.message == "Expected ']' to close the vector opened at 1:6, found ')'"
    assert not error.incomplete


@pytest.mark.parametrize(
    "text, line, col, message",
    [
        ("(a\n  (b c)", 1, 1, "Expected ')' to close the list opened at 1:1"),
        ("(f\n   [x", 2, 4, "Expected ']' to close the vector opened at 2:4"),
        ("{:a 1", 1, 1, "Expected '}' to close the map opened at 1:1"),
        ("x #{1", 1, 3, "Expected '}' to close the set opened at 1:3"),
        ("#(f", 1, 1, "Expected ')' to close the #() function opened at 1:1"),
    ],
)
def test_unclosed_bracket_reports_opening_span(
    text: str, line: int, col: int, message: str
) -> None:
    error = read_error(text)
    assert at(error) == (line, col)
    assert error.message == message
    assert error.incomplete


def test_unclosed_vector_reports_opening_span() -> None:
    error = read_error("(defn f\n  [x y]\n  (let [a 1\n        b [2")
    assert error.span == Span("t.flow", 4, 11, 4, 12)
    assert error.message == "Expected ']' to close the vector opened at 4:11"


def test_error_text_names_file_position_line_and_caret() -> None:
    error = read_error('(ok)\n(bad "x\\q")\n')
    assert str(error) == (
        "t.flow:2:8: read error: Invalid escape '\\q' in string; use \\n \\t \\r \\\" \\\\ "
        'or \\uXXXX\n  (bad "x\\q")\n         ^'
    )


def test_error_source_line_drops_carriage_return() -> None:
    error = read_error("(a)\r\n(b ]\r\n")
    assert error.source_line == "(b ]"
    assert at(error) == (2, 4)


def test_error_at_end_of_input_points_past_the_last_character() -> None:
    with pytest.raises(ReadError) as info:
        read_one("  ")
    assert info.value.span == Span("<string>", 1, 3, 1, 3)
    assert info.value.incomplete


# -- read_one, is_complete, open_depth -------------------------------------------------------


def test_read_one_returns_the_first_form_and_ignores_the_rest() -> None:
    assert read_one("(a) (b") == List([sym("a")])
    assert read_one("1 ) ] garbage \\q") == 1
    assert read_one("#_ skipped kept") == sym("kept")


def test_read_one_of_nothing_is_an_incomplete_error() -> None:
    with pytest.raises(ReadError) as info:
        read_one(" ; just a comment\n")
    assert info.value.incomplete
    assert info.value.message == "Expected a form, found end of input"


def test_read_of_nothing_is_empty() -> None:
    assert read("") == [] and read(" ;c\n ,,") == []


@pytest.mark.parametrize(
    "text, complete",
    [
        ("", True),
        ("(+ 1 2)", True),
        ("(+ 1", False),
        ("[1 {:a", False),
        ('"abc', False),
        ('(f "(")', True),
        ("(f ; )\n", False),
        ("(f ; )\n)", True),
        ("'", False),
        ("#_", False),
        (")", True),
        ("(]", True),
        ('(f "\\q")', True),
        ("(f \\a", True),
        ('"a\\', False),
        ("{:a}", True),
        ("#(#(", True),
    ],
)
def test_is_complete(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


@pytest.mark.parametrize(
    "text, depth",
    [
        ("", 0),
        ("(", 1),
        ("(a [b {c #{", 4),
        ("(a [b])", 0),
        ('(f "(["', 1),
        ("(f ; ((\n", 1),
        ('"((', 0),
        ("))(", 1),
        ("#(a", 1),
        ('(f "a\\"(" (', 2),
    ],
)
def test_open_depth_counts_open_brackets_outside_strings_and_comments(
    text: str, depth: int
) -> None:
    assert open_depth(text) == depth


# -- deep nesting ----------------------------------------------------------------------------

DEEP = 100_000


def test_deeply_nested_lists_read_without_recursion() -> None:
    form = read_one("(" * DEEP + "x" + ")" * DEEP)
    depth = 0
    while type(form) is List:
        depth += 1
        assert form.span.col == depth and form.span.end_col == 2 * DEEP + 3 - depth
        (form,) = form
    assert depth == DEEP and form == sym("x")


def test_deeply_nested_mixed_collections_and_macros_read() -> None:
    form = read_one("['{:k #{" * (DEEP // 4) + "}}]" * (DEEP // 4))
    depth = 0
    while type(form) is Vector:
        quote, mapping = form[0]
        assert quote == sym("quote") and type(mapping) is Map
        st_ = mapping[kw("k")]
        form = next(iter(st_)) if len(st_) else None
        depth += 1
    assert depth == DEEP // 4


def test_deeply_unclosed_input_is_incomplete() -> None:
    error = read_error("[" * DEEP)
    assert error.incomplete and at(error) == (1, DEEP)


def test_deeply_nested_quotes_read() -> None:
    form = read_one("'" * DEEP + "x")
    for _ in range(DEEP):
        quote, form = form
        assert quote == sym("quote")
    assert form == sym("x")


# -- never a Python exception ----------------------------------------------------------------

LISPY = st.text(alphabet="()[]{}#%_'`~@^\\\";:/.+-eE0123456789 \n\tabnu,&!$λ\x00\r", max_size=60)


@settings(max_examples=500)
@given(st.one_of(st.text(), LISPY))
def test_any_text_reads_or_raises_read_error(text: str) -> None:
    try:
        forms = read(text)
    except ReadError as error:
        assert error.span is not None and error.source_line is not None
        str(error)
    else:
        assert isinstance(forms, list)
    assert isinstance(is_complete(text), bool)
    assert open_depth(text) >= 0


def test_equal_keys_too_deep_to_compare_are_a_read_error() -> None:
    deep = "(" * DEEP + ")" * DEEP
    error = read_error("{" + deep + " 1 " + deep + " 2}")
    assert at(error) == (1, 1)
    assert error.message == "Keys nested too deeply to compare"
