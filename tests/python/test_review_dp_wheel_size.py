"""Review dp (dependency and build hygiene): the extension module a user
installs (``pip install .``, a wheel from ``maturin build --release``) carries
no DWARF. The workspace's ``[profile.release]`` keeps ``debug = 1`` for
profiling (perf, callgrind); built into the wheel unstripped that was 8 MB of
a 9.4 MB ``_tcphub.abi3.so`` (a 3.0 MB wheel; 0.8 MB without it)."""

import struct
from pathlib import Path
from typing import List

import tcphub


def section_names(path: Path) -> List[str]:
    """The section names of an ELF64 little-endian file (the only kind the
    package is built as: Linux x86-64 / aarch64)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not an ELF64 LE file"
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = headers[shstrndx][4]
    names = []
    for name_off, *_ in headers:
        start = strtab_off + name_off
        names.append(data[start : data.index(b"\0", start)].decode())
    return names


def test_installed_extension_has_no_debug_info() -> None:
    so = Path(tcphub._tcphub.__file__)
    names = section_names(so)
    assert ".text" in names, names
    debug = [n for n in names if n.startswith(".debug_")]
    assert not debug, f"{so.name} ({so.stat().st_size} bytes) carries {debug}"
