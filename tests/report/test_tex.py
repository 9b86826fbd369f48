"""Text-mode TeX rendered as Markdown or Unicode (#21 "Rendering"), math spans kept, and
parentheses left alone outside link syntax."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from arxivfilter.report.escape import escape_md, tex_plain

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@pytest.mark.parametrize(
    ("tex", "markdown"),
    [
        (r"We \emph{propose} FastServe", "We *propose* FastServe"),
        (r"a \textbf{fast} path", "a **fast** path"),
        (r"{\em really} works", "*really* works"),
        ("``hot'' experts and `cold' ones", "“hot” experts and ‘cold’ ones"),
        ("10--20 GB --- or more", "10–20 GB — or more"),
        (r"50\% faster \& cheaper", "50% faster \\& cheaper"),
        (r"Na\"ive r\'esum\'e", "Naïve résumé"),
        (r"as shown \cite{smith}.", "as shown."),
        (r"the \texttt{vllm\_serve} flag", "the `vllm\\_serve` flag"),
        (r"{GPU} kernels", "GPU kernels"),
        (r"in $O(n^2)$ time (and $\emph{x}$)", r"in $O(n^2)$ time (and $\emph{x}$)"),
    ],
)
def test_text_mode_tex_becomes_markdown(tex: str, markdown: str) -> None:
    assert escape_md(tex, tex=True) == markdown


def test_emphasis_renders_as_emphasis() -> None:
    html = MD.render(escape_md(r"We \emph{propose} a \textbf{fast} system", tex=True))
    assert "<em>propose</em>" in html and "<strong>fast</strong>" in html


def test_parentheses_are_not_escaped() -> None:
    """Old code wrote \\( and \\), which arithmatex turns into math and git diffs show."""
    assert escape_md("Serving (fast) LLMs (v2)") == "Serving (fast) LLMs (v2)"
    html = MD.render(escape_md("[click](javascript:alert(1)) ![x](y.png)"))
    assert "<a" not in html and "<img" not in html


def test_plain_text_for_the_feed() -> None:
    assert tex_plain(r"\emph{Fast} ``LLM'' serving in $O(n)$") == "Fast “LLM” serving in $O(n)$"


def test_unknown_commands_stay_as_typed() -> None:
    assert escape_md(r"\foo{bar} and \baz", tex=True) == "\\\\foo{bar} and \\\\baz"
