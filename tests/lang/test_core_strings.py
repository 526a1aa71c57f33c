"""String built-ins: ``str``, ``subs``, ``format`` and the ``str/`` namespace."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flowmetal.lang.data import Symbol

from .core_helpers import K, L, M, S, V, call, same, throws

texts = st.text(alphabet="ab,= \n", max_size=12)


class TestStr:
    def test_str_concatenates_with_nil_as_empty_and_strings_raw(self):
        assert call("str") == ""
        assert call("str", "a", None, "b") == "ab"
        assert call("str", "n=", 5, K("k")) == "n=5:k"

    def test_str_prints_other_values_readably(self):
        assert call("str", V(1, "x")) == '[1 "x"]'
        assert call("str", True, False) == "truefalse"
        assert call("str", 1.0) == "1.0"
        assert call("str", Symbol("s"), L(), M(K("a"), None), S()) == "s(){:a nil}#{}"

    def test_str_of_a_huge_integer(self):
        assert call("str", 10**5000) == "1" + "0" * 5000

    def test_subs(self):
        assert call("subs", "hello", 1, 3) == "el"
        assert call("subs", "hello", 2) == "llo"
        assert call("subs", "hello", 5) == ""
        with throws("index-out-of-bounds"):
            call("subs", "hello", 2, 9)
        with throws("index-out-of-bounds"):
            call("subs", "hello", 3, 2)
        with throws("type-error", "subs expects a string, got nil"):
            call("subs", None, 0)


class TestFormat:
    def test_format_uses_python_percent_style(self):
        assert call("format", "%s has %d items", "cart", 3) == "cart has 3 items"
        assert call("format", "%.2f%%", 3.14159) == "3.14%"
        assert call("format", "%05d|%x", 42, 255) == "00042|ff"

    def test_format_shows_flowmetal_values_as_flowmetal(self):
        assert call("format", "%s %s %s", None, True, K("a")) == "nil true :a"
        assert call("format", "%s", V("a")) == '["a"]'

    def test_bad_format_strings_throw_format_error(self):
        with throws("format-error"):
            call("format", "%d", "x")
        with throws("format-error"):
            call("format", "%s %s", 1)
        with throws("format-error"):
            call("format", "%q", 1)
        with throws("format-error"):
            call("format", "%s", 1, 2)
        with throws("format-error", "named"):
            call("format", "%(a)s", M())
        with throws("format-error"):
            call("format", "%d", True)

    def test_format_errors_speak_flowmetal(self):
        with throws("format-error", 'argument 1 is "x"'):
            call("format", "%d", "x")
        with throws("format-error", "argument 2 is true"):
            call("format", "%s %d", 1, True)
        with throws("format-error", '"%s %s" has 2 conversions but 1 argument was given'):
            call("format", "%s %s", 1)
        with throws("format-error", "1 conversion but 2 arguments were given"):
            call("format", "%s", 1, 2)
        with throws("format-error", "unknown conversion %q at index 3"):
            call("format", "ab %q", 1)
        with throws("format-error", "ends in the middle of a conversion"):
            call("format", "100%")
        with throws("format-error", "%x needs an integer, but argument 1 is 2.5"):
            call("format", "%x", 2.5)
        with throws("format-error", "%c needs an integer or a one-character string"):
            call("format", "%c", "ab")
        assert call("format", "%c%c", 70, "m") == "Fm"
        assert call("format", "%d%%", 2.9) == "2%"

    def test_format_refuses_enormous_widths(self):
        with throws("format-error", "widths"):
            call("format", "%999999999d", 1)
        with throws("format-error"):
            call("format", "%*d", 5, 1)
        with throws("format-error"):
            call("format", "%.99999999f", 1.0)


class TestStrNamespace:
    def test_join(self):
        assert call("str/join", ", ", V(1, "a", K("b"), None)) == "1, a, :b, "
        assert call("str/join", V(1, 2)) == "12"
        assert call("str/join", "-", None) == ""
        with throws("type-error", "separator"):
            call("str/join", 1, V())

    def test_split_drops_trailing_empty_strings_like_clojure(self):
        assert same(call("str/split", "a,b,,c,,", ","), V("a", "b", "", "c"))
        assert same(call("str/split", "", ","), V(""))
        assert same(call("str/split", ",,", ","), V())
        assert same(call("str/split", "abc", "::"), V("abc"))

    def test_split_with_a_limit(self):
        assert same(call("str/split", "a=b=c", "=", 2), V("a", "b=c"))
        assert same(call("str/split", "a,b,,", ",", -1), V("a", "b", "", ""))
        assert same(call("str/split", "abc", "", 2), V("a", "bc"))

    def test_split_on_empty_separator_gives_characters(self):
        assert same(call("str/split", "abc", ""), V("a", "b", "c"))

    def test_split_lines(self):
        assert same(call("str/split-lines", "a\nb\r\nc\n\n"), V("a", "b", "c"))
        assert same(call("str/split-lines", ""), V(""))

    def test_trimming_and_case(self):
        assert call("str/trim", "  a b \n") == "a b"
        assert call("str/triml", "  a ") == "a "
        assert call("str/trimr", "  a ") == "  a"
        assert call("str/upper-case", "abc") == "ABC"
        assert call("str/lower-case", "ÀB") == "àb"
        assert call("str/capitalize", "hELLO") == "Hello"
        assert call("str/capitalize", "") == ""

    def test_searching(self):
        assert call("str/starts-with?", "flowmetal", "flow")
        assert not call("str/ends-with?", "flowmetal", "flow")
        assert call("str/includes?", "flowmetal", "owm")
        assert call("str/index-of", "banana", "an") == 1
        assert call("str/index-of", "banana", "an", 2) == 3
        assert call("str/index-of", "banana", "x") is None
        with throws("type-error", "str/includes?"):
            call("str/includes?", "abc", K("a"))

    def test_replace_replaces_every_plain_occurrence(self):
        assert call("str/replace", "a.b.c", ".", "+") == "a+b+c"
        assert call("str/replace", "aaa", "a", "") == ""

    def test_blank(self):
        assert call("str/blank?", None)
        assert call("str/blank?", " \t\n")
        assert not call("str/blank?", " x ")
        with throws("type-error"):
            call("str/blank?", 1)

    def test_string_functions_reject_nil(self):
        for name in ["str/trim", "str/upper-case", "str/capitalize", "str/split-lines"]:
            with throws("type-error", f"{name} expects a string, got nil"):
                call(name, None)

    @given(texts, st.sampled_from([",", "=", "ab", " "]))
    def test_split_then_join_gives_back_the_text_when_limit_is_negative(self, s, sep):
        assert call("str/join", sep, call("str/split", s, sep, -1)) == s

    @given(texts)
    def test_str_of_a_string_is_itself(self, s):
        assert call("str", s) == s
        assert call("str", s, None) == s


class TestReadablePrinting:
    def test_pr_str_prints_values_readably_separated_by_spaces(self):
        assert call("pr-str") == ""
        assert call("pr-str", "a", V(1, K("b")), None) == '"a" [1 :b] nil'

    def test_read_string_reads_the_first_form_as_data(self):
        assert same(call("read-string", "[1 :a]"), V(1, K("a")))
        value = M(K("a"), V(1, "x", S(None)), "k", L(2.5))
        assert same(call("read-string", call("pr-str", value)), value)

    def test_read_string_of_malformed_text_is_a_read_error(self):
        with throws("read-error", "Expected ')'"):
            call("read-string", "(1 2")
        with throws("type-error"):
            call("read-string", 5)


class TestMoreStringFunctions:
    def test_last_index_of(self):
        assert call("str/last-index-of", "banana", "an") == 3
        assert call("str/last-index-of", "banana", "an", 2) == 1
        assert call("str/last-index-of", "banana", "an", -1) is None
        assert call("str/last-index-of", "banana", "x") is None
        assert call("str/last-index-of", "ab", "") == 2

    def test_reverse(self):
        assert call("str/reverse", "héllo") == "olléh"
        with throws("type-error"):
            call("str/reverse", V("a"))

    def test_parse_long_reads_only_an_optionally_signed_integer(self):
        assert call("parse-long", "-42") == -42 and call("parse-long", "+7") == 7
        for text in ("4.2", " 7", "1_000", "٣", "", "0x10", "abc"):
            assert call("parse-long", text) is None, text
        big = call("parse-long", "7" * 5000)  # past Python's 4300-digit int() limit
        assert 10**4999 < big < 10**5000 and big % 10 == 7
        with throws("type-error", "parse-long expects a string, got nil"):
            call("parse-long", None)

    def test_parse_double_reads_what_clojure_reads(self):
        assert call("parse-double", "2.5") == 2.5 and call("parse-double", ".5") == 0.5
        assert call("parse-double", "-2e3") == -2000.0 and call("parse-double", "7") == 7.0
        assert call("parse-double", "-Infinity") == float("-inf")
        nan = call("parse-double", "NaN")
        assert nan != nan
        for text in ("nan", "inf", "1_0.5", " 1.5", "x", ""):
            assert call("parse-double", text) is None, text
