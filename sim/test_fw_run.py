"""`make fw-run` end to end (`make fw-run-check`): the two examples of fw/README.md on the small
configuration on both platforms, a deliberately failing C program and a failing Python script (exit status
non-zero, the device's SWERR record printed), and the checks that stop before any simulation (bad
arguments, compilation errors, a script without main). Runs sim/fw_run.py the way the Makefile does; the
simulations run one after another (a few seconds each)."""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fw_run as fw_run_cli

ROOT = Path(__file__).resolve().parent.parent
FW_RUN = ROOT / "sim" / "fw_run.py"


def fw_run(*args: str, make: bool = False) -> subprocess.CompletedProcess:
    if make:
        cmd = ["make", "--no-print-directory", "fw-run", *args]
    else:
        cmd = [sys.executable, str(FW_RUN), *args]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    print(res.stdout + res.stderr)         # shown by pytest when a check fails
    return res


def check_only(capsys, *args: str) -> tuple[int, str, str]:
    """sim/fw_run.py in this process, for the cases that stop before any simulation."""
    rc = fw_run_cli.main(list(args))
    out, err = capsys.readouterr()
    print(out + err)
    return rc, out, err


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.mark.parametrize("prog,marker", [("fw/examples/hello_device.c", "hello_device: MEMMOVE of 256 bytes done"),
                                         ("fw/examples/hello_driver.py", "hello_driver: MEMMOVE of 256 bytes done")])
@pytest.mark.parametrize("platform", ["x86", "arm"])
def test_example_passes(prog, marker, platform):
    # one of the four through make, to check the target's plumbing (PROG, PLATFORM, CONFIG, the exit status)
    via_make = prog.endswith(".c") and platform == "x86"
    args = ([f"PROG={prog}", f"PLATFORM={platform}", "CONFIG=small"] if via_make
            else ["--prog", prog, "--platform", platform, "--config", "small"])
    res = fw_run(*args, make=via_make)
    assert res.returncode == 0
    out = res.stdout
    assert marker in out, "the program's output is not printed"
    assert "SWERR in the log at the end: none" in out and f"platform {platform}: no fault record(s)" in out
    assert re.search(r"interrupts: 1 delivered by the platform, 1 taken by the program", out)
    assert re.search(rf"fw-run: PASS  {re.escape(prog)} on small/{platform}, seed \d+", out)


@pytest.mark.parametrize("prog,marker,platform,guest", [
    ("fw/examples/hello_device.c", "hello_device: MEMMOVE of 256 bytes done", "x86", "posted"),
    ("fw/examples/hello_driver.py", "hello_driver: MEMMOVE of 256 bytes done", "x86", "remapped"),
    ("fw/examples/hello_device.c", "hello_device: MEMMOVE of 256 bytes done", "arm", "vits")])
def test_example_passes_in_a_guest(prog, marker, platform, guest):
    """The unchanged examples inside a VM that owns the device (through make: GUEST, GUEST_PASIDS)."""
    res = fw_run(f"PROG={prog}", f"PLATFORM={platform}", "CONFIG=small", f"GUEST={guest}", "GUEST_PASIDS=0x1234",
                 make=True)
    assert res.returncode == 0
    out = res.stdout
    assert marker in out and "SWERR in the log at the end: none" in out
    assert f"platform {platform}: no fault record(s)" in out
    # one completion interrupt, taken once at a vCPU; every exit a trapped access (x86: MSI-X/IMS; ARM also the
    # guest kernel's vITS/vSMMU registers), plus one external-interrupt exit per interrupt that is not posted
    assert re.search(r"guest interrupts taken at its vCPUs: 1 x \(vCPU \d, (vector|LPI) 0x[0-9a-f]+\)", out)
    exits = re.search(r"guest \((x86|arm)-(\w+)\): PASIDs attached 0x1234; VM exits: (.*)", out)
    trapped = re.search(r"guest accesses \(trapped ones exit to the VMM\): .*trapped (\d+)", out)
    assert exits and trapped and exits.group(2) == guest
    by_reason = dict((r, int(n)) for r, n in (e.split() for e in exits.group(3).split(", ")))
    assert by_reason.get("EXTERNAL_INTERRUPT", 0) == (0 if guest == "posted" else 1), by_reason
    assert set(by_reason) <= {"EPT_VIOLATION", "EXTERNAL_INTERRUPT"}, by_reason
    # every EPT_VIOLATION is one trapped access: the BAR's (MSI-X table, IMS) as the guest's ops counted them,
    # and on ARM the guest kernel's vITS / redistributor / vSMMU registers
    regions = re.search(r"EPT_VIOLATION exits by trapped region: (.*)", out)
    per_region = dict((r, int(n)) for r, n in (e.split() for e in regions.group(1).split(", ")))
    assert sum(per_region.values()) == by_reason["EPT_VIOLATION"], (per_region, by_reason)
    assert per_region.get("MSI-X", 0) + per_region.get("IMS", 0) == int(trapped.group(1)), per_region
    others = set(per_region) - {"MSI-X", "IMS"}
    assert (others == set()) if platform == "x86" else (others and all(
        r.startswith(("GITS", "GICR", "vSMMU")) for r in others)), per_region
    assert re.search(rf"fw-run: PASS  {re.escape(prog)} on small/{platform} in a guest \({guest} interrupts\)", out)
    assert f"GUEST={guest} GUEST_PASIDS=0x1234" in out, "the replay line must repeat the guest options"


def test_guest_pasid_not_attached_is_reported_with_the_fix():
    res = fw_run("--prog", "fw/examples/hello_device.c", "--platform", "x86", "--config", "small", "--guest", "posted")
    assert res.returncode == 1
    out = res.stdout
    assert "ENQCMDS_PASID_TRANSLATION_FAILURE: guest PASID 0x1234" in out
    assert "a PASID the guest kernel has not attached: add it to GUEST_PASIDS" in out
    assert "the VMM refused (0, 0): guest PASID in CTRL" in out, "the IMS slot bound to it must be refused"
    assert "fw-run: FAIL" in out


def test_arm_guest_ssid_not_attached_is_reported_with_the_fix():
    res = fw_run("--prog", "fw/examples/hello_device.c", "--platform", "arm", "--config", "small", "--guest", "vits")
    assert res.returncode == 1
    out = res.stdout
    # the device's DMA with the SubstreamID finds no CD in the guest's table; the IMS slot bound to it is refused
    assert "C_BAD_CD for SubstreamID 0x1234  <- a SubstreamID the guest kernel has not attached" in out
    assert out.count("C_BAD_CD for SubstreamID 0x1234") == 1, "one hint per SubstreamID"
    assert "the VMM refused (0, 0): guest PASID in CTRL" in out
    assert "fw-run: FAIL" in out


def test_failing_c_program_exits_nonzero_and_prints_the_swerr():
    prog = "sim/fw_run_fixtures/ims_unmasked_write.c"
    res = fw_run("--prog", prog, "--platform", "x86")
    assert res.returncode == 1
    out = res.stdout
    assert "ims_unmasked_write: the write did not take effect" in out
    assert "program: imsdev_main returned 1" in out
    assert re.search(r"SWERR in the log at the end: SWERR IMS_UNMASKED_WRITE wq 0 .*addr 0x3", out)
    # the error interrupt it enabled came and was never taken: reported, not judged
    assert "delivered but never taken by the program: 1 x" in out
    assert re.search(rf"fw-run: FAIL  {re.escape(prog)} on small/x86, seed \d+: imsdev_main returned 1; 1 SWERR", out)
    assert "replay: make fw-run PROG=" in out


def test_failing_python_script_shows_its_traceback_and_the_acknowledged_swerr(tmp_path):
    prog = write(tmp_path, "fwrun_check_portal_mode.py", """\
        from imsdev.driver import imsdev_probe
        from imsdev.driver.submit import enqcmds, idxd_alloc_desc, prep_desc
        from imsdev.driver.uapi import DSA_OPCODE_NOOP


        def main(ops):
            idxd = imsdev_probe(ops)
            wq = idxd.wqs[0]
            idxd.wq_configure(wq, size=1, dedicated=True, pasid=0x55)
            idxd.wq_enable(wq)
            d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_NOOP)
            rc = enqcmds(ops, wq.portal, d.hw.pack(), 0x1234, False)   # ENQCMD to a dedicated WQ
            idxd.core.handle_pending(5_000)        # the driver's error handler acknowledges the SWERR
            assert rc == 0, f"ENQCMD refused ({rc})"
        """)
    res = fw_run("--prog", str(prog), "--platform", "arm")
    assert res.returncode == 1
    out = res.stdout
    assert 'fwrun_check_portal_mode.py", line 14, in main' in out and "AssertionError: ENQCMD refused (-5)" in out
    assert re.search(r"\d+ ns \(acknowledged by the program\): SWERR PORTAL_MODE wq 0 pasid 0x1234", out)
    assert "program: main() raised AssertionError: ENQCMD refused (-5)" in out


def test_compile_error_stops_before_simulation(tmp_path, capsys):
    prog = write(tmp_path, "fwrun_check_compile_error.c", """\
        #include "imsdev.h"

        int imsdev_main(const struct imsdev_ops *ops)
        {
        	int unused;
        	return ops->no_such_op(ops->ctx);
        }
        """)
    rc, out, err = check_only(capsys, "--prog", str(prog), "--platform", "x86")
    assert rc == 2
    assert "no_such_op" in err and "error:" in err, "the compiler's message is not shown"
    assert "compilation failed" in err and "nothing was simulated" in err
    assert "running" not in out


def test_missing_entry_point_is_a_link_error(tmp_path, capsys):
    prog = write(tmp_path, "fwrun_check_no_main.c", """\
        #include "imsdev.h"

        int my_main(const struct imsdev_ops *ops);
        int my_main(const struct imsdev_ops *ops) { return ops == 0; }
        """)
    rc, _, err = check_only(capsys, "--prog", str(prog), "--platform", "x86")
    assert rc == 2 and "must define int imsdev_main" in err


@pytest.mark.parametrize("args,message", [
    ([], "no program given"),
    (["--prog", "fw/examples/nope.c", "--platform", "x86"], "no such file"),
    (["--prog", "fw/README.md", "--platform", "x86"], "a C source (.c, defining imsdev_main) or a Python script"),
    (["--prog", "fw/examples/hello_device.c"], "PLATFORM='': give one of x86, arm"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "riscv"], "PLATFORM='riscv'"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--config", "huge"],
     "CONFIG='huge': known configurations are default, small, wide"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--seed", "abc"], "SEED='abc' is not an integer"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--pauses", "some"], "PAUSES='some'"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--guest", "nested"],
     "GUEST='nested': one of none, posted, remapped"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "arm", "--guest", "posted"],
     "GUEST=posted needs PLATFORM=x86"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--guest", "vits"],
     "GUEST=vits needs PLATFORM=arm"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "arm", "--guest", "vits", "--guest-pasids", "0x2000"],
     "GUEST_PASIDS: 0x2000 does not fit the ARM guest's linear CD table"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--guest-pasids", "0x1234"],
     "GUEST_PASIDS is for a program in a guest"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--guest", "posted", "--guest-pasids", "0x1234,x"],
     "GUEST_PASIDS: 'x' is not an integer"),
    (["--prog", "fw/examples/hello_device.c", "--platform", "x86", "--guest", "posted", "--guest-pasids", "0x100000"],
     "GUEST_PASIDS: 0x100000 is not a PASID"),
])
def test_bad_arguments(capsys, args, message):
    rc, _, err = check_only(capsys, *args)
    assert rc == 2 and message in err


@pytest.mark.parametrize("text,message", [
    ("def main(ops)\n    return 0\n", "syntax error"),
    ("def run(ops):\n    return 0\n", "no top-level `def main(ops):`"),
    ("def main():\n    return 0\n", "main takes one argument"),
    ("async def main(ops):\n    return 0\n", "plain (blocking) function"),
])
def test_bad_python_scripts(tmp_path, capsys, text, message):
    prog = write(tmp_path, "fwrun_check_script.py", text)
    rc, out, err = check_only(capsys, "--prog", str(prog), "--platform", "arm")
    assert rc == 2 and message in err and "running" not in out
