"""The examples in the module's docstrings (the ``Example::`` blocks) stay
true to the API: each is type-checked with mypy against the stub, so a
renamed method, a wrong argument or a misspelt property in an example fails
here instead of misleading a reader. (They are not run: most need a peer.
Their printed outputs were checked by hand when they were written.)

Each block becomes the body of an ``async def`` (so ``await`` works) whose
parameters are the names the block uses without defining: ``server`` and
``client`` as ``TcpServer`` and ``TcpClient``, ``data`` as ``bytes``, the
rest (the reader's own objects, e.g. ``pool``) as ``Any``.
"""

from __future__ import annotations

import builtins
import inspect
import subprocess
import sys
import symtable
import textwrap
from pathlib import Path
from typing import Dict, List, Set

import pytest

import tcphub
import tcphub._tcphub as native

pytest.importorskip("mypy")

#: Names an example may use without defining them, and their types.
TYPED = {"server": "TcpServer", "client": "TcpClient", "data": "bytes"}
#: What the generated module imports (so examples need not).
IMPORTED = {"tcphub", "TcpServer", "TcpClient", "selectors", "asyncio", "logging"}


def blocks(doc: str) -> List[str]:
    """The literal blocks of a docstring: the indented lines after a line
    ending in ``::``."""
    out = []
    lines = doc.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            block = []
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith("    ")):
                block.append(lines[j])
                j += 1
            out.append(textwrap.dedent("\n".join(block)).strip("\n"))
            i = j
        else:
            i += 1
    return out


def examples() -> Dict[str, List[str]]:
    """Every public class, function, method and property docstring's
    blocks, by qualified name."""
    found: Dict[str, List[str]] = {}
    for name in dir(native):
        if name.startswith("_"):
            continue
        obj = getattr(native, name)
        items = [(name, obj)]
        if isinstance(obj, type):
            items += [
                (f"{name}.{m}", inspect.getattr_static(obj, m))
                for m in dir(obj)
                if not m.startswith("_")
            ]
        for qual, item in items:
            doc = getattr(item, "__doc__", None)
            found_here = blocks(inspect.cleandoc(doc)) if isinstance(doc, str) else []
            if found_here:
                found[qual] = found_here
    return found


def free_names(code: str, where: str) -> Set[str]:
    """Names ``code`` reads at module level (or as globals in its
    functions) that it neither assigns nor imports, builtins aside."""
    # Compiled as the body of an async function: top-level `await` is fine.
    wrapped = "async def _():\n" + textwrap.indent(code, "    ")
    table = symtable.symtable(wrapped, where, "exec").get_children()[0]
    free: Set[str] = set()

    def walk(t: symtable.SymbolTable, top: bool) -> None:
        for s in t.get_symbols():
            if (
                s.is_referenced()
                and not s.is_assigned()
                and not s.is_imported()
                and not s.is_parameter()
                and (top or s.is_global() or s.is_free())
                and not hasattr(builtins, s.get_name())
            ):
                free.add(s.get_name())
        for child in t.get_children():
            walk(child, False)

    walk(table, True)
    return free - IMPORTED


def test_there_are_examples_to_check() -> None:
    # The extraction itself must find them (a format change would else
    # leave this test checking nothing).
    found = examples()
    assert sum(len(b) for b in found.values()) >= 30, sorted(found)
    assert "TcpServer" in found and "TcpClient" in found, sorted(found)


def test_doc_examples_type_check_against_the_stub(tmp_path: Path) -> None:
    module = [
        "import asyncio, logging, selectors",
        "from typing import Any",
        "import tcphub",
        "from tcphub import TcpServer, TcpClient",
        "",
    ]
    where = {}
    for qual, codes in sorted(examples().items()):
        for n, code in enumerate(codes):
            fn = f"example_{qual.replace('.', '_')}_{n}"
            params = ", ".join(
                f"{name}: {TYPED.get(name, 'Any')}" for name in sorted(free_names(code, qual))
            )
            module.append(f"async def {fn}({params}) -> None:")
            where[len(module) + 1] = f"{qual} (example {n + 1})"
            module.append(textwrap.indent(code, "    "))
            module.append("")
    path = tmp_path / "doc_examples.py"
    path.write_text("\n".join(module))
    run = subprocess.run(
        # (--no-strict-optional: an event's ``data`` is ``Optional[bytes]``,
        # bytes for a "message" one, which the examples test ``kind`` for.)
        [sys.executable, "-m", "mypy", "--no-incremental", "--check-untyped-defs",
         "--no-strict-optional", "--no-error-summary", "--hide-error-context", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the installed tcphub, not a source tree's
    )
    assert run.returncode == 0, run.stdout + run.stderr + "\n" + "\n".join(
        f"{line:5}: {qual}" for line, qual in sorted(where.items())
    )


def test_the_check_catches_a_wrong_example(tmp_path: Path) -> None:
    # The same check on an example calling a method that does not exist.
    path = tmp_path / "wrong.py"
    path.write_text(
        "from tcphub import TcpServer\n"
        "async def example(server: TcpServer) -> None:\n"
        "    server.send_everyone(b'hi')\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(path)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 1 and "send_everyone" in run.stdout, run.stdout
    assert tcphub.TcpServer is native.TcpServer
