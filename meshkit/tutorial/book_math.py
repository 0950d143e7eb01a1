"""TeX math to MathML, rendered when the book is built: its pages need no script to show a formula.

Jupyter shows ``$…$`` and ``$$…$$`` in markdown through MathJax, loaded from the network. The
book instead converts each formula to MathML with ``latex2mathml`` (browsers render MathML
Core natively) while nbconvert turns the markdown into HTML: :class:`MathMLRenderer` is
nbconvert's own markdown renderer with its math hooks replaced, so what counts as math (and
what is escaped, ``\\$``) is exactly what nbconvert and JupyterLab find.

A formula latex2mathml cannot read, or a command it does not know (it would otherwise be
shown as its raw name, e.g. ``\\foo``), raises :class:`~meshkit._errors.RunError` naming the
notebook cell: the book never shows a formula it could not render.

Examples
--------
>>> mathml(r"\\theta_1", where="example").count("<msub>")
1
>>> markdown_html("It is $x^2$.", where="example").count("<math ")
1
>>> html_with_math("<b>$n_i$</b> rows", where="example").startswith("<b><math ")
True
"""

from __future__ import annotations

import re

from latex2mathml.converter import convert
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from meshkit._errors import RunError

__all__ = ["mathml", "MathMLRenderer", "markdown_html", "html_with_math"]

# a command latex2mathml does not know comes out as its name in a token element
_UNKNOWN_COMMAND = re.compile(r"<m[ion][^>]*>(\\[A-Za-z]+)</m[ion]>")
# in HTML text (ipywidgets' HTMLMath): display math first, then inline math, as MathJax reads them
_HTML_MATH = re.compile(r"(?<!\\)\$\$(?P<block>.+?)(?<!\\)\$\$"
                        r"|(?<![\\$])\$(?P<inline>.+?)(?<![\\$])\$", re.DOTALL)


def mathml(tex: str, *, display: bool = False, where: str = "math") -> str:
    """The MathML of TeX formula ``tex`` (a ``<math>`` element, ``display="block"`` when asked).

    Raises
    ------
    RunError
        latex2mathml cannot parse ``tex``, or ``tex`` uses a command it does not know.
    """
    try:
        markup = convert(tex.strip(), display="block" if display else "inline")
    except Exception as exc:  # latex2mathml's errors share no base class
        raise RunError("cannot render this formula as MathML", where=where,
                       expected="TeX that latex2mathml reads",
                       found=f"{tex.strip()!r} ({type(exc).__name__}: {exc})") from exc
    unknown = _UNKNOWN_COMMAND.findall(markup)
    if unknown:
        raise RunError("the formula uses a TeX command latex2mathml does not know", where=where,
                       expected="commands latex2mathml renders",
                       found=f"{', '.join(sorted(set(unknown)))} in {tex.strip()!r}")
    return markup


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with every formula rendered to MathML.

    Parameters
    ----------
    where : str
        Named in the error of a formula that cannot be rendered (a notebook and its cell).
    **options
        Passed to :class:`nbconvert.filters.markdown_mistune.IPythonRenderer`.
    """

    def __init__(self, *, where: str = "markdown", **options) -> None:
        super().__init__(**options)
        self.where = where

    def block_math(self, body: str) -> str:  # $$…$$ and \[…\]
        return mathml(body, display=True, where=self.where)

    def inline_math(self, body: str) -> str:  # $…$ and \(…\)
        return mathml(body, where=self.where)

    def latex_environment(self, name: str, body: str) -> str:  # \begin{name}…\end{name}
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True, where=self.where)


def markdown_html(source: str, *, where: str = "markdown", **options) -> str:
    """Markdown ``source`` as HTML, as nbconvert renders it, with its math as MathML."""
    renderer = MathMLRenderer(where=where, escape=False, **options)
    return MarkdownWithMath(renderer=renderer).render(source)


def html_with_math(html: str, *, where: str = "html") -> str:
    """``html`` with its ``$…$`` and ``$$…$$`` formulas as MathML (for HTMLMath widgets)."""
    def replace(match: re.Match) -> str:
        if match["block"] is not None:
            return mathml(match["block"], display=True, where=where)
        return mathml(match["inline"], where=where)

    return _HTML_MATH.sub(replace, html)
