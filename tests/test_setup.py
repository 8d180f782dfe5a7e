"""The Makefile's set-up off the beaten path: no Graphviz or Chromium, no apt-get, no sudo, not root.

Each test runs the real Makefile (or ``.ci/run``) with PATH set to a temporary directory holding only the tools
the recipe may use: symlinks to real ones (``make``, ``id``, ``bash``, ``dirname``) and small fake scripts that
log each call (``sudo``, ``apt-get``, ``dot``, ``chromedriver``, an ``id`` that says "not root"). Nothing is
installed and the test suite is not run recursively, so the whole file takes well under a second or two.

The targets ``dot`` (Graphviz, for the graph-rendering tests) and ``chromium`` (Debian's chromium and its
chromedriver, for the browser tests) follow one pattern, and the tests of it run for both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(shutil.which("make") is None or BASH is None, reason="needs make and bash")

class Target(NamedTuple):
    """A make target that installs a program the tests want, when it can."""

    name: str
    program: str  # the target does nothing when this is on PATH
    hint: str  # how the one line printed when it cannot install starts
    install_commands: tuple[str, ...]  # each named in that line
    installing: str  # the line printed as root with apt-get
    packages: str  # what apt-get installs


DOT = Target("dot", "dot", "graphviz's dot not found: the graph-rendering tests will be skipped",
             ("apt-get install graphviz", "dnf install graphviz", "pacman -S graphviz", "brew install graphviz"),
             "graphviz's dot not found: installing Debian's graphviz", "graphviz")
CHROMIUM = Target("chromium", "chromedriver", "chromium/chromedriver not found: the browser tests will be skipped",
                  ("apt-get install chromium chromium-driver",),
                  "chromium not found: installing Debian's chromium and chromium-driver", "chromium chromium-driver")
TARGETS = pytest.mark.parametrize("target", [DOT, CHROMIUM], ids=lambda t: t.name)


class Machine:
    """A PATH of chosen tools; fake tools append ``name args`` to ``calls.log``."""

    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.log = tmp_path / "calls.log"
        self.link("make", "id")

    def link(self, *tools: str) -> None:
        for tool in tools:
            real = shutil.which(tool)
            if real is None:
                pytest.skip(f"{tool} is not installed")
            (self.bin / tool).unlink(missing_ok=True)
            (self.bin / tool).symlink_to(real)

    def fake(self, name: str, body: str = "exit 0") -> None:
        script = self.bin / name
        script.unlink(missing_ok=True)
        script.write_text(f'#!{BASH}\necho "{name} $*" >> "{self.log}"\n{body}\n')
        script.chmod(0o755)

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": str(self.bin), "LC_ALL": "C"}  # no MAKEFLAGS/MAKELEVEL from an outer `make test`
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def assert_one_line_hint(proc: subprocess.CompletedProcess[str], target: Target) -> None:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    assert lines[0].startswith(target.hint)
    for command in target.install_commands:
        assert command in lines[0], command
    assert proc.stderr == ""


@TARGETS
def test_without_the_program_apt_get_or_sudo_make_says_how_to_install_and_succeeds(
    machine: Machine, target: Target
) -> None:
    # the real `id`: whoever runs the tests, without apt-get there is nothing to install with
    assert_one_line_hint(machine.run("make", target.name), target)


@TARGETS
def test_not_root_never_calls_sudo_or_apt_get(machine: Machine, target: Target) -> None:
    machine.fake("id", 'echo 1000')
    machine.fake("sudo", 'echo "sudo must not be called" >&2; exit 1')
    machine.fake("apt-get", 'echo "apt-get must not be called" >&2; exit 1')
    assert_one_line_hint(machine.run("make", target.name), target)
    assert machine.calls() == ["id -u"]


@TARGETS
def test_root_with_apt_get_installs_debians_package_without_sudo(machine: Machine, target: Target) -> None:
    machine.fake("id", "echo 0")
    machine.fake("sudo", "exit 1")
    machine.fake("apt-get")
    proc = machine.run("make", target.name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [target.installing]
    assert machine.calls() == ["id -u", "apt-get update -qq", f"apt-get install -y -qq {target.packages}"]


@TARGETS
def test_root_whose_apt_get_fails_still_goes_on_with_the_hint(machine: Machine, target: Target) -> None:
    machine.fake("id", "echo 0")
    machine.fake("apt-get", 'echo "E: no network" >&2; exit 100')
    proc = machine.run("make", target.name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(target.hint)
    assert machine.calls() == ["id -u", "apt-get update -qq"]


@TARGETS
def test_with_the_program_make_does_nothing(machine: Machine, target: Target) -> None:
    machine.fake(target.program)
    machine.fake("sudo")
    machine.fake("apt-get")
    proc = machine.run("make", target.name)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert machine.calls() == []


def test_make_demo_needs_neither_dot_nor_chromium_but_make_test_wants_both(machine: Machine) -> None:
    demo = machine.run("make", "-n", "demo")
    assert demo.returncode == 0, demo.stderr
    assert "tinygrad_lite iris" in demo.stdout
    for word in ("dot", "apt-get", "graphviz", "chromium", "chromedriver"):
        assert word not in demo.stdout, word
    test = machine.run("make", "-n", "test")  # the control: -n prints the dot and chromium recipes here
    assert test.returncode == 0, test.stderr
    assert "command -v dot" in test.stdout and "apt-get install -y -qq graphviz" in test.stdout
    assert "command -v chromedriver" in test.stdout and "apt-get install -y -qq chromium chromium-driver" in test.stdout
    assert machine.calls() == []


def test_make_test_fails_when_pytest_collects_no_tests(machine: Machine) -> None:
    """pytest's exit code 5 ("no tests ran") fails `make test`, and so the CI job."""
    machine.fake("dot")
    machine.fake("chromedriver")
    # -o: leave the .venv stamp alone (no reinstall); PY: this interpreter, wherever its environment lives
    proc = machine.run("make", "-o", ".venv/.installed", f"PY={sys.executable}", "test",
                       "PYTEST_ARGS=tests/test_setup.py -k no_test_is_called_this -p no:cacheprovider")
    assert proc.returncode != 0
    assert "deselected" in proc.stdout
    assert "Error 5" in proc.stderr


def fake_make(machine: Machine, test_status: int, kernels_status: int = 0) -> None:
    machine.fake("make", f'[ "$1" = test ] && exit {test_status}; [ "$1" = kernels ] && exit {kernels_status}; exit 0')


@pytest.mark.parametrize("status", [0, 2])
def test_ci_passes_on_make_tests_status(machine: Machine, status: int) -> None:
    machine.link("bash", "dirname")
    machine.fake("dot")
    machine.fake("chromedriver")
    fake_make(machine, status)
    proc = machine.run(BASH, ".ci/run")
    assert proc.returncode == status, proc.stderr
    calls = [c for c in machine.calls() if c.startswith("make")]
    assert calls[:3] == ["make dot", "make chromium", "make test"]
    if status:
        assert calls == ["make dot", "make chromium", "make test"]  # nothing runs after a failed `make test`
    else:  # then the trajectory tests under every kernel
        assert calls == ["make dot", "make chromium", "make test", "make kernels"]


def test_ci_fails_when_a_kernel_fails(machine: Machine) -> None:
    machine.link("bash", "dirname")
    machine.fake("dot")
    machine.fake("chromedriver")
    fake_make(machine, 0, kernels_status=1)
    proc = machine.run(BASH, ".ci/run")
    assert proc.returncode == 1
    assert [c for c in machine.calls() if c.startswith("make")] == ["make dot", "make chromium", "make test",
                                                                    "make kernels"]


def test_ci_fails_before_testing_when_dot_could_not_be_installed(machine: Machine) -> None:
    machine.link("bash", "dirname")
    fake_make(machine, 0)
    proc = machine.run(BASH, ".ci/run")
    assert proc.returncode == 1
    assert "dot is still missing" in proc.stderr
    assert machine.calls() == ["make dot"]


def test_ci_fails_before_testing_when_chromedriver_could_not_be_installed(machine: Machine) -> None:
    machine.link("bash", "dirname")
    machine.fake("dot")
    fake_make(machine, 0)
    proc = machine.run(BASH, ".ci/run")
    assert proc.returncode == 1
    assert "chromedriver is still missing" in proc.stderr
    assert [c for c in machine.calls() if c.startswith("make")] == ["make dot", "make chromium"]


def test_ci_entry_point_is_executable() -> None:
    assert os.access(REPO / ".ci" / "run", os.X_OK)
