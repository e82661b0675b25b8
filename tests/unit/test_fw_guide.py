"""The programming guide (fw/README.md) stays true to the code: every C excerpt is in the C library
verbatim (the build compiles it with -Werror), every IMSDEV_ name it uses is defined by the generated
header or the library's header, and every Python module/function it names exists."""
import importlib
import re

from fake_device import FW

GUIDE = (FW / "README.md").read_text()
C_SOURCES = "\n".join(p.read_text() for p in sorted((FW / "lib").glob("*.[ch]")))
HEADERS = (FW / "include" / "imsdev_regs.h").read_text() + (FW / "lib" / "imsdev.h").read_text()


def test_every_c_excerpt_is_in_the_library_verbatim():
    excerpts = re.findall(r"```c\n(.*?)```", GUIDE, re.S)
    assert len(excerpts) >= 10, "the guide should quote the library's key functions"
    missing = [e.splitlines()[0] for e in excerpts if e.rstrip("\n") not in C_SOURCES]
    assert not missing, f"excerpts not found verbatim in fw/lib: {missing}"


def test_every_imsdev_name_is_defined():
    names = set(re.findall(r"\b(IMSDEV_[A-Z0-9_]*[A-Z0-9])(_\*)?", GUIDE))
    assert len(names) > 40
    undefined = []
    for name, star in names:
        if star:                                   # a family, e.g. IMSDEV_CMD_ERR_*
            if not re.search(r"#define\s+" + name + r"_\w+", HEADERS):
                undefined.append(name + "_*")
        elif not re.search(r"(#define\s+|\b)" + name + r"\b", HEADERS):
            undefined.append(name)
    assert not undefined, f"the guide uses names no header defines: {sorted(undefined)}"


def test_python_names_in_the_guide_exist():
    block = re.search(r"```python\n(.*?)```", GUIDE, re.S)[1]
    for mod, names in re.findall(r"from (imsdev[\w.]*) import ([\w, ]+)", block):
        m = importlib.import_module(mod)
        for n in names.split(","):
            assert hasattr(m, n.strip()), f"{mod}.{n.strip()} named in fw/README.md does not exist"
