"""The stub ``python/tcphub/_tcphub.pyi`` carries the native module's docstrings.

Editors and type checkers read the stub, not the module, so a class, method
or property documented only in the Rust source (``///`` comments, which pyo3
turns into ``__doc__``) shows no documentation there. This test checks that
every public class, method and property of the stub has the installed
module's docstring, word for word (line breaks aside). After changing a docstring in
``python/src``, rebuild the package and copy the docstrings into the stub::

    TCPHUB_BLESS=1 python -m pytest tests/python/test_stub_docs.py
"""

import ast
import inspect
import os
import re
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import tcphub._tcphub as native

_Node = Union[ast.ClassDef, ast.FunctionDef]

_HELD = "\x00"  # stands for a space inside a ``literal`` while wrapping

STUB = Path(__file__).resolve().parents[2] / "python" / "tcphub" / "_tcphub.pyi"


def _runtime_doc(cls_name: str, member: Optional[str]) -> Optional[str]:
    cls = getattr(native, cls_name, None)
    if cls is None:
        return None
    obj = cls if member is None else inspect.getattr_static(cls, member, None)
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__  # the wrapper's __doc__ is the builtin's own
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None


def _documented(cls: ast.ClassDef) -> List[Tuple[Optional[str], _Node]]:
    """The class itself and its public methods and properties."""
    out: List[Tuple[Optional[str], _Node]] = [(None, cls)]
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            out.append((node.name, node))
    return out


def _expected() -> List[Tuple[str, Optional[str], _Node, Optional[str], str]]:
    """(class, member, node, stub docstring, runtime docstring) for each item."""
    tree = ast.parse(STUB.read_text())
    items: List[Tuple[str, Optional[str], _Node, Optional[str], str]] = []
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for member, node in _documented(cls):
            want = _runtime_doc(cls.name, member)
            if want is None:
                continue
            items.append((cls.name, member, node, ast.get_docstring(node), want))
    return items


def _same(have: Optional[str], want: str) -> bool:
    """Equal but for line breaks and indentation (the stub's are wrapped)."""
    return have is not None and have.split() == want.split()


def _quoted(doc: str, indent: str) -> List[str]:
    assert '"""' not in doc, doc
    prefix = 'r"""' if "\\" in doc else '"""'
    width = 79 - len(indent)
    lines: List[str] = []
    for line in doc.split("\n"):
        lead = line[: len(line) - len(line.lstrip())]
        if lead:  # an example's code (or a list item's rest): kept as written
            lines.append(line)
            continue
        # A ``literal`` is not broken between lines (``"slow`` / ``consumer"``
        # would read as two values): its spaces are held while wrapping.
        held = re.sub(r"``.*?``", lambda m: m.group(0).replace(" ", _HELD), line)
        lines += [
            part.replace(_HELD, " ")
            for part in textwrap.wrap(
                held,
                width,
                subsequent_indent=lead,
                break_long_words=False,
                break_on_hyphens=False,
            )
        ] or [""]
    lines[0] = prefix + lines[0]
    lines[-1] += ' """' if lines[-1].endswith('"') else '"""'
    return [(indent + line) if line else "" for line in lines]


def _bless() -> None:
    """Writes the runtime docstrings into the stub (bottom up, so earlier
    line numbers stay valid)."""
    lines = STUB.read_text().split("\n")
    edits: Dict[int, Tuple[int, List[str]]] = {}  # first line -> (last line, new lines)
    for _cls, _member, node, have, want in _expected():
        first = node.body[0]
        indent = " " * (node.col_offset + 4)
        new = _quoted(want, indent)
        if have is not None:  # replace the docstring statement
            assert first.end_lineno is not None
            if lines[first.lineno - 1 : first.end_lineno] == new:
                continue  # already as blessing writes it
            edits[first.lineno - 1] = (first.end_lineno, new)
        else:  # `def f(...) -> T: ...`: the `...` gives way to the docstring
            assert node.end_lineno is not None
            end = node.end_lineno - 1
            assert lines[end].endswith(": ..."), lines[end]
            edits[end] = (end + 1, [lines[end][: -len(" ...")]] + new)
    for start in sorted(edits, reverse=True):
        stop, new = edits[start]
        lines[start:stop] = new
    STUB.write_text("\n".join(lines))


def test_the_stub_has_the_modules_docstrings() -> None:
    if os.environ.get("TCPHUB_BLESS"):
        _bless()
    stale = [
        f"{cls}.{member}" if member else cls
        for cls, member, _node, have, want in _expected()
        if not _same(have, want)
    ]
    assert not stale, (
        f"{len(stale)} docstrings of {STUB.name} differ from the module's "
        f"(rebuild, then: TCPHUB_BLESS=1 python -m pytest {Path(__file__).name}): "
        + ", ".join(stale)
    )
