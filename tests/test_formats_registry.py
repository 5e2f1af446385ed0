"""The registry of formats: every spec points at a module that has what it names, and the tables built from it
(platform commands, --source names, install hints) are whole."""

from __future__ import annotations

import pytest

from nettop.formats import registry
from nettop.formats.detect import detect_format


@pytest.mark.parametrize("spec", registry.FORMATS, ids=lambda spec: spec.name)
def test_each_spec_names_what_its_module_has(spec: registry.Format) -> None:
    module = spec.load()
    assert callable(module.parse)
    tests = [name for name in (spec.header, spec.text, spec.rows) if name is not None]
    assert tests, "detection needs at least one test"
    for name in tests:
        assert callable(getattr(module, name)), name


def test_names_are_unique_and_each_platform_ranks_its_commands() -> None:
    assert len(registry.BY_NAME) == len(registry.FORMATS)
    for platform in registry.platforms():
        commands = [c for spec in registry.FORMATS for c in spec.commands if c.platform == platform]
        assert len({c.source for c in commands}) == len(commands), platform
        assert len({c.rank for c in commands}) == len(commands), platform
    assert registry.commands("sunos5") == {}


def test_linux_runs_ss_then_netstat_asked_for_inodes() -> None:
    linux = registry.commands("linux")
    assert [(name, c.argv) for name, c in linux.items()] == [
        ("netlink", ("netlink", "sock_diag")),  # no command: the kernel's table (sources.sockdiag)
        ("ss", ("ss", "-tunae")),
        ("netstat", ("netstat", "-tunaeW")),
    ]


def test_install_hints_come_with_the_commands() -> None:
    assert registry.install_hint("ss") == "install iproute2, e.g. `apt-get install iproute2`"
    assert registry.install_hint("netstat") == "install net-tools, e.g. `apt-get install net-tools`"
    assert registry.install_hint("lsof") == "install lsof"
    assert registry.install_hint("sockstat") == "sockstat is part of the FreeBSD base system"
    assert registry.install_hint("nosuchtool") == ""


def test_detection_tries_the_registry_in_order() -> None:
    """A line both ss's header test and a later format's could claim goes to the first spec (ss)."""
    assert detect_format("Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port\n") == "ss"
    assert detect_format("tcp LISTEN 0 5 127.0.0.1:22 0.0.0.0:*\n") == "ss"
    assert detect_format("LISTEN 0 5 127.0.0.1:22 0.0.0.0:*\n") == "ss-single"
