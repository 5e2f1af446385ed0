"""Cgroup paths classified into units, containers and pods; names read from the runtimes' state files.

The path shapes are the ones the runtimes write, as found in public material (each case says where):
systemd.io "Control Group APIs and Delegation" and systemd.unit(5) for units and escaping; kubernetes/community
"Kubelet and systemd interaction" and CJLove/rt-operator ``notes/cgroupv1_notes.md`` for kubepods;
containers/crun#376, podman#4833, podman#6400 and quarkusio/spring-quarkus-perf-comparison#542 for podman;
rootless-containers/usernetes#200 for a kubelet inside a user service; falcosecurity/libs
``container_engine/lxc.cpp`` for LXC; DataDog's and Elastic's tracers for docker's cgroupfs paths.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nettop import view
from nettop.cgroups import Container, Kind, Placement, Pod, classify, read_proc_cgroup, unescape_unit
from nettop.formats.nettop_json import records_from_json
from nettop.owners.procfs import SocketOwners
from nettop.owners.runtimes import MAX_STATE_BYTES, ContainerNames, read_bounded
from nettop.writers.json import to_json

#: Container ids and a pod uid quoted in the issues above.
DOCKER = "852314f36fe2bf5f57d68dfd9e5a6370ba3974ef708b43bf8cec1d1393d548b1"
INNER = "3959d7abfbd0221e5043fccbcb8040e9a1a4e6518dad483b7a33a131885e0283"
CONMON = "3b7eb5fd0547f8ac67b8106a3ac51cd2c4a9be8ced6bafd9850408c47399bce6"
ROOTLESS = "ccd5dc6d1c49a1edd5c55eff9d11b626bd4f38d8f96ad1d2c394d65914deef45"
CRI = "7bb48caa579ee164fee4e0c072aaf430c2ec7b5dc13d512a5f19ce037de010ab"
POD = "b2d6a0c9-95d3-4372-80e0-bce249a26f95"
POD_ = POD.replace("-", "_")
#: A static pod's uid is a 32-hex hash without dashes (kube-apiserver's, from a /var/log/pods listing).
STATIC = "33d556edd3ae8ef21980288cef77ae8b"
USER_MANAGER = "/user.slice/user-1000.slice/user@1000.service"
KUBEPODS = "/kubepods.slice/kubepods-burstable.slice"


def placement(path: str, kind: str, **fields: object) -> tuple[str, Placement]:
    """A table row: the path and the Placement written by hand for it."""
    return path, Placement(cgroup=path, kind=Kind(kind), **fields)  # type: ignore[arg-type]


SYSTEMD = [
    placement("/system.slice/nginx.service", "service", unit="nginx.service", slice="system.slice"),
    placement(
        "/system.slice/system-getty.slice/getty@tty1.service",
        "service",
        unit="getty@tty1.service",
        slice="system-getty.slice",
    ),
    placement(
        "/user.slice/user-1000.slice/session-3.scope",
        "session",
        unit="session-3.scope",
        slice="user-1000.slice",
        uid=1000,
    ),
    # The user service manager's own units, below its user@.service.
    placement(
        f"{USER_MANAGER}/app.slice/app-gnome-firefox-1234.scope",
        "scope",
        unit="app-gnome-firefox-1234.scope",
        slice="app.slice",
        uid=1000,
    ),
    placement(f"{USER_MANAGER}/init.scope", "user", unit="user@1000.service", slice="user-1000.slice", uid=1000),
    placement("/user.slice/user-1000.slice", "user", slice="user-1000.slice", uid=1000),
    placement("/init.scope", "scope", unit="init.scope"),
    # A delegated service's own subtree stays the service's.
    placement("/system.slice/containerd.service/sub", "service", unit="containerd.service", slice="system.slice"),
    # systemd-machined's VM scope: the escaped name kept in the unit, unescaped as the machine's name.
    placement(
        "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope",
        "machine",
        unit="machine-qemu\\x2d1\\x2dvm.scope",
        slice="machine.slice",
        container=Container("machine", "qemu-1-vm", "qemu-1-vm"),
    ),
    placement(
        "/machine.slice/systemd-nspawn@deb.service",
        "machine",
        unit="systemd-nspawn@deb.service",
        slice="machine.slice",
        container=Container("nspawn", "deb", "deb"),
    ),
]

DOCKER_AND_PODMAN = [
    # docker's systemd cgroup driver, and its cgroupfs driver (also cgroup v1's shape).
    placement(
        f"/system.slice/docker-{DOCKER}.scope",
        "container",
        unit=f"docker-{DOCKER}.scope",
        slice="system.slice",
        container=Container("docker", DOCKER),
    ),
    placement(f"/docker/{DOCKER}", "container", container=Container("docker", DOCKER)),
    # docker in docker: the outer container, whose state the host holds.
    placement(f"/docker/{DOCKER}/docker/{INNER}", "container", container=Container("docker", DOCKER)),
    # A container running systemd has units of its own below its scope.
    placement(
        f"/system.slice/docker-{DOCKER}.scope/init.scope",
        "container",
        unit=f"docker-{DOCKER}.scope",
        slice="system.slice",
        container=Container("docker", DOCKER),
    ),
    placement(
        f"/machine.slice/libpod-{CONMON}.scope",
        "container",
        unit=f"libpod-{CONMON}.scope",
        slice="machine.slice",
        container=Container("podman", CONMON),
    ),
    placement(
        f"/machine.slice/libpod-conmon-{CONMON}.scope",
        "container",
        unit=f"libpod-conmon-{CONMON}.scope",
        slice="machine.slice",
        container=Container("podman", CONMON),
    ),
    # Rootless podman, in the user manager's user.slice (crun's payload sub-cgroup "container").
    placement(
        f"{USER_MANAGER}/user.slice/libpod-{ROOTLESS}.scope/container",
        "container",
        unit=f"libpod-{ROOTLESS}.scope",
        slice="user.slice",
        uid=1000,
        container=Container("podman", ROOTLESS),
    ),
    placement(
        f"{USER_MANAGER}/user.slice/podman-6696.scope", "scope", unit="podman-6696.scope", slice="user.slice", uid=1000
    ),
]

KUBELET = [
    placement(
        f"{KUBEPODS}/kubepods-burstable-pod{POD_}.slice/cri-containerd-{CRI}.scope",
        "pod",
        unit=f"cri-containerd-{CRI}.scope",
        slice=f"kubepods-burstable-pod{POD_}.slice",
        container=Container("containerd", CRI),
        pod=Pod(POD, "burstable"),
    ),
    placement(
        f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_}.slice/crio-{CRI}.scope",
        "pod",
        unit=f"crio-{CRI}.scope",
        slice=f"kubepods-besteffort-pod{POD_}.slice",
        container=Container("cri-o", CRI),
        pod=Pod(POD, "besteffort"),
    ),
    # Guaranteed pods sit right under kubepods; dockershim wrote docker-<id>.scope.
    placement(
        f"/kubepods.slice/kubepods-pod{POD_}.slice/docker-{CRI}.scope",
        "pod",
        unit=f"docker-{CRI}.scope",
        slice=f"kubepods-pod{POD_}.slice",
        container=Container("docker", CRI),
        pod=Pod(POD, "guaranteed"),
    ),
    placement(
        f"{KUBEPODS}/kubepods-burstable-pod{STATIC}.slice/crio-{CRI}.scope",
        "pod",
        unit=f"crio-{CRI}.scope",
        slice=f"kubepods-burstable-pod{STATIC}.slice",
        container=Container("cri-o", CRI),
        pod=Pod(STATIC, "burstable"),
    ),
    # runc's "slice:prefix:id" left as one directory by a runtime (containerd/runwasi#821).
    placement(
        f"/kubepods-besteffort-pod{POD_}.slice:cri-containerd:{CRI}",
        "pod",
        unit=f"cri-containerd-{CRI}.scope",
        slice=f"kubepods-besteffort-pod{POD_}.slice",
        container=Container("containerd", CRI),
        pod=Pod(POD, "besteffort"),
    ),
    # minikube: a node in docker (cgroupfs), its kubelet's systemd driver inside (minikube#11280).
    placement(
        f"/docker/{DOCKER}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_}.slice/crio-{CRI}.scope",
        "pod",
        container=Container("docker", DOCKER),
        pod=Pod(POD, "besteffort"),
    ),
    # The cgroupfs driver (and cgroup v1): which CRI runtime is not said.
    placement(f"/kubepods/burstable/pod{POD}/{CRI}", "pod", container=Container("cri", CRI), pod=Pod(POD, "burstable")),
    placement(f"/kubepods/pod{POD}/{CRI}", "pod", container=Container("cri", CRI), pod=Pod(POD, "guaranteed")),
    placement(f"/kubepods/besteffort/pod{POD}", "pod", pod=Pod(POD, "besteffort")),
    # usernetes: a kubelet inside a user service, cgroupfs driver below it.
    placement(
        f"/user.slice/user-1001.slice/user@1001.service/u7s-rootlesskit.service/kubepods/burstable/pod{POD}/{CRI}",
        "pod",
        unit="u7s-rootlesskit.service",
        slice="user-1001.slice",
        uid=1001,
        container=Container("cri", CRI),
        pod=Pod(POD, "burstable"),
    ),
    # A kind node: pods inside a docker container; the container is the node, the pod the path's.
    placement(
        f"/system.slice/docker-{DOCKER}.scope/kubelet.slice/kubelet-kubepods.slice/"
        f"kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{POD_}.slice/cri-containerd-{CRI}.scope",
        "pod",
        unit=f"docker-{DOCKER}.scope",
        slice="system.slice",
        container=Container("docker", DOCKER),
        pod=Pod(POD, "besteffort"),
    ),
]

LXC_AND_ODD = [
    placement("/lxc.payload.web/system.slice/nginx.service", "lxc", container=Container("lxc", "web", "web")),
    placement("/lxc.payload/web", "lxc", container=Container("lxc", "web", "web")),
    placement("/lxc/db", "lxc", container=Container("lxc", "db", "db")),
    placement("/lxc.monitor.web", "lxc", container=Container("lxc", "web", "web")),
    placement("/", "other"),
    placement("", "other"),
    placement("/../../etc/passwd", "other"),
    placement("/process_api/d9ceda941941ad18feb16d703eeda2c4", "other"),
    # Not a container: the id is too short, or a prefix no runtime writes.
    placement(
        f"/system.slice/docker-{DOCKER[:12]}.scope", "scope", unit=f"docker-{DOCKER[:12]}.scope", slice="system.slice"
    ),
    placement(f"/kubepods/burstable/pod../{CRI}", "container", container=Container("cri", CRI)),
]


@pytest.mark.parametrize(("path", "expected"), SYSTEMD + DOCKER_AND_PODMAN + KUBELET + LXC_AND_ODD)
def test_classify(path: str, expected: Placement) -> None:
    assert classify(path) == expected


def test_unescape_unit() -> None:
    assert unescape_unit("machine-qemu\\x2d1\\x2dvm.scope") == "machine-qemu-1-vm.scope"
    assert unescape_unit("dev-disk-by\\x2duuid-\\x2f.swap") == "dev-disk-by-uuid-/.swap"
    assert unescape_unit("plain.service") == "plain.service"


# --- /proc/PID/cgroup -------------------------------------------------------------------------------------------

V1_DOCKER = f"""12:pids:/docker/{DOCKER}
11:cpu,cpuacct:/docker/{DOCKER}
4:memory:/docker/{DOCKER}
1:name=systemd:/docker/{DOCKER}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0::/system.slice/nginx.service\n", "/system.slice/nginx.service"),
        # Hybrid: the unified line and name=systemd agree.
        (
            "5:memory:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/session-3.scope\n0::/user.slice/"
            "user-1000.slice/session-3.scope\n",
            "/user.slice/user-1000.slice/session-3.scope",
        ),
        (V1_DOCKER, f"/docker/{DOCKER}"),
        # v1 without name=systemd (no systemd): a controller's path.
        (f"11:cpu,cpuacct:/docker/{DOCKER}\n2:devices:/\n", f"/docker/{DOCKER}"),
        # Only a controller says more than "/" (this sandbox's own shape).
        ("9:name=systemd:/\n4:memory:/process_api/d9ce\n1:cpu:/\n0::/\n", "/process_api/d9ce"),
        ("0::/\n", "/"),
        ("0::/system.slice/gone.service (deleted)\n", "/system.slice/gone.service"),
        ("", None),
        ("not a cgroup file\n1:2\n", None),
        ("0::relative\n", None),
    ],
)
def test_read_proc_cgroup(text: str, expected: str | None) -> None:
    assert read_proc_cgroup(text) == expected


@pytest.fixture
def sleeper() -> Iterator[int]:
    child = subprocess.Popen(["sleep", "30"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not os.path.exists("/proc/self/cgroup"), reason="needs Linux /proc")
def test_a_real_process(sleeper: int) -> None:
    """A child's cgroup is one of its file's paths, the unified one when that says more than ``/``, and the
    same as ours (it inherited it). Here that is a bare path of a sandbox's or ``/``: kind "other"."""
    text = Path(f"/proc/{sleeper}/cgroup").read_text()
    paths = [line.split(":", 2)[2] for line in text.splitlines()]
    unified = next((line[3:] for line in text.splitlines() if line.startswith("0::")), None)
    path = read_proc_cgroup(text)
    assert path in paths
    assert path == read_proc_cgroup(Path("/proc/self/cgroup").read_text())
    if unified not in (None, "/"):
        assert path == unified
    placed = classify(path)
    assert placed.cgroup == path
    assert placed.kind in Kind.__members__.values()
    if not any(word in path for word in (".slice", ".scope", ".service", "docker", "kubepods", "lxc")):
        assert placed.kind == "other"


# --- any text --------------------------------------------------------------------------------------------------

PARTS = st.sampled_from(
    [
        "kubepods",
        "kubepods.slice",
        "burstable",
        f"pod{POD}",
        f"kubepods-pod{POD_}.slice",
        "lxc",
        "lxc.payload.",
        "docker",
        DOCKER,
        f"libpod-{CRI}.scope",
        "user@1000.service",
        "user-99999999999.slice",
        "machine-.scope",
        "systemd-nspawn@.service",
        "init.scope",
        "..",
        "\\x2d",
        "\x00",
        "a.slice",
        "-pod.slice",
    ]
)


@given(st.text())
def test_any_text_gives_a_value(text: str) -> None:
    path = read_proc_cgroup(text)
    assert path is None or path.startswith("/")
    placed = classify(text)
    assert placed.cgroup == text
    assert placed.kind in Kind.__members__.values()


@given(st.lists(st.one_of(PARTS, st.text(max_size=70)), max_size=12))
def test_any_path_of_likely_parts_gives_a_placement(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    placed = classify(path)
    assert placed.kind in Kind.__members__.values()
    assert (placed.pod is not None) == (placed.kind == "pod")
    assert placed.container is None or placed.container.id


# --- names from the runtimes' state files ----------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def docker_config(root: Path, cid: str, content: object) -> Path:
    return write(root, f"var/lib/docker/containers/{cid}/config.v2.json", json.dumps(content))


def test_docker_name_and_image(tmp_path: Path) -> None:
    docker_config(tmp_path, DOCKER, {"ID": DOCKER, "Name": "/web", "Config": {"Image": "nginx:1.25"}})
    names = ContainerNames(str(tmp_path))
    placed = names.resolve(classify(f"/system.slice/docker-{DOCKER}.scope"))
    assert placed.container == Container("docker", DOCKER, "web", "nginx:1.25")
    assert placed.unit == f"docker-{DOCKER}.scope"


def test_no_state_file_gives_the_short_id(tmp_path: Path) -> None:
    assert ContainerNames(str(tmp_path)).container("docker", DOCKER) == Container("docker", DOCKER, DOCKER[:12])


@pytest.mark.parametrize(
    "content",
    [
        b"not json {",
        b"\xff\xfe\x00garbage",
        json.dumps({"Name": 5, "Config": []}).encode(),
        json.dumps({"Name": "/", "Config": {"Image": 7}}).encode(),
        json.dumps(["Name", "/web"]).encode(),
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["not-json", "binary", "wrong-types", "empty-name", "a-list", "deep-nesting"],
)
def test_hostile_docker_files_give_the_short_id(tmp_path: Path, content: bytes) -> None:
    write(tmp_path, f"var/lib/docker/containers/{DOCKER}/config.v2.json", content)
    assert ContainerNames(str(tmp_path)).container("docker", DOCKER) == Container("docker", DOCKER, DOCKER[:12])


def test_a_huge_file_is_not_read(tmp_path: Path) -> None:
    path = docker_config(tmp_path, DOCKER, {"Name": "/web"})
    os.truncate(path, MAX_STATE_BYTES + 1)  # sparse: no 4 MiB written
    assert read_bounded(str(path)) is None
    assert ContainerNames(str(tmp_path)).container("docker", DOCKER).name == DOCKER[:12]


def test_a_fifo_is_not_opened_for_reading(tmp_path: Path) -> None:
    path = tmp_path / f"var/lib/docker/containers/{DOCKER}/config.v2.json"
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    assert read_bounded(str(path)) is None
    assert ContainerNames(str(tmp_path)).container("docker", DOCKER).name == DOCKER[:12]


def podman_store(root: Path, store: str, cid: str, name: str, image: str) -> None:
    metadata = json.dumps({"image-name": image, "name": name, "created-at": 1700000000})
    entries = [
        {"id": "0" * 64, "names": ["other"], "image": "f" * 64, "metadata": "{}"},
        "junk",
        {"id": cid, "names": [name], "image": "e" * 64, "layer": "d" * 64, "metadata": metadata},
    ]
    write(root, f"{store}/overlay-containers/containers.json", json.dumps(entries))


def test_podman_rootful(tmp_path: Path) -> None:
    podman_store(tmp_path, "var/lib/containers/storage", CONMON, "db", "docker.io/library/postgres:16")
    placed = ContainerNames(str(tmp_path)).resolve(classify(f"/machine.slice/libpod-{CONMON}.scope"))
    assert placed.container == Container("podman", CONMON, "db", "docker.io/library/postgres:16")


def test_podman_rootless_reads_the_users_store(tmp_path: Path) -> None:
    podman_store(tmp_path, "home/alice/.local/share/containers/storage", ROOTLESS, "fruits_db", "ghcr.io/x/pg:17")
    homes = {1000: "/home/alice"}
    names = ContainerNames(str(tmp_path), home_of=homes.get)
    placed = names.resolve(classify(f"{USER_MANAGER}/user.slice/libpod-{ROOTLESS}.scope/container"))
    assert placed.container == Container("podman", ROOTLESS, "fruits_db", "ghcr.io/x/pg:17")


def test_rootless_docker_reads_the_users_data_root(tmp_path: Path) -> None:
    config = {"Name": "/mine", "Config": {"Image": "alpine"}}
    write(tmp_path, f"home/alice/.local/share/docker/containers/{DOCKER}/config.v2.json", json.dumps(config))
    names = ContainerNames(str(tmp_path), home_of={1000: "/home/alice"}.get)
    placed = names.resolve(classify(f"{USER_MANAGER}/user.slice/docker-{DOCKER}.scope"))
    assert placed.container == Container("docker", DOCKER, "mine", "alpine")


def test_an_id_that_is_not_hex_is_never_a_path(tmp_path: Path) -> None:
    """``containers/../config.v2.json`` exists, and an id of ``..`` must not reach it."""
    docker_config(tmp_path, "..", {"Name": "/escaped"})
    assert (tmp_path / "var/lib/docker/config.v2.json").is_file()
    assert ContainerNames(str(tmp_path)).container("docker", "..") == Container("docker", "..", "..")


def test_podman_metadata_that_is_not_json_keeps_the_name(tmp_path: Path) -> None:
    entries = [{"id": CONMON, "names": ["db"], "metadata": "{nope"}]
    write(tmp_path, "var/lib/containers/storage/overlay-containers/containers.json", json.dumps(entries))
    assert ContainerNames(str(tmp_path)).container("podman", CONMON) == Container("podman", CONMON, "db")


def test_kubelet_pod_and_container_names(tmp_path: Path) -> None:
    (tmp_path / f"var/log/pods/shop_web-7d4b9_{POD}/nginx").mkdir(parents=True)
    (tmp_path / "var/log/pods/kube-system_kube-proxy-6xsx9_81e09ae0-12ec-4ec5-94b8-51cda7906370").mkdir()
    (tmp_path / "var/log/pods/not-a-pod-dir").mkdir()
    write(tmp_path, f"var/log/containers/web-7d4b9_shop_nginx-{CRI}.log", "")
    names = ContainerNames(str(tmp_path))
    path = f"{KUBEPODS}/kubepods-burstable-pod{POD_}.slice/cri-containerd-{CRI}.scope"
    placed = names.resolve(classify(path))
    assert placed.pod == Pod(POD, "burstable", "shop", "web-7d4b9")
    assert placed.container == Container("containerd", CRI, "nginx")
    # The cgroupfs shape reaches the same names.
    assert names.resolve(classify(f"/kubepods/burstable/pod{POD}/{CRI}")).container == Container("cri", CRI, "nginx")


def test_unknown_pod_keeps_its_uid_only(tmp_path: Path) -> None:
    placed = ContainerNames(str(tmp_path)).resolve(classify(f"/kubepods/besteffort/pod{POD}"))
    assert placed.pod == Pod(POD, "besteffort")


def test_lxc_and_plain_units_need_no_lookup(tmp_path: Path) -> None:
    names = ContainerNames(str(tmp_path))
    for path in ("/lxc.payload.web", "/system.slice/nginx.service"):
        placed = classify(path)
        assert names.resolve(placed) is placed


def test_a_miss_is_cached_briefly(tmp_path: Path) -> None:
    """A container's cgroup appears before its runtime writes its state file."""
    clock = Clock()
    names = ContainerNames(str(tmp_path), clock=clock, miss_ttl=5.0)
    assert names.container("docker", DOCKER).name == DOCKER[:12]
    docker_config(tmp_path, DOCKER, {"Name": "/web", "Config": {"Image": "nginx"}})
    clock.now += 4.0
    assert names.container("docker", DOCKER).name == DOCKER[:12]
    clock.now += 1.5
    assert names.container("docker", DOCKER).name == "web"


def test_a_hit_is_cached_until_it_ages(tmp_path: Path) -> None:
    clock = Clock()
    names = ContainerNames(str(tmp_path), clock=clock, hit_ttl=300.0)
    docker_config(tmp_path, DOCKER, {"Name": "/web"})
    assert names.container("docker", DOCKER) == Container("docker", DOCKER, "web")
    docker_config(tmp_path, DOCKER, {"Name": "/renamed"})
    clock.now += 299.0
    assert names.container("docker", DOCKER).name == "web"
    clock.now += 2.0
    assert names.container("docker", DOCKER).name == "renamed"


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    names = ContainerNames(str(tmp_path), max_cached=3)
    for index in range(10):
        names.container("docker", f"{index:064x}")
    assert len(names._cache) == 3


def test_a_name_like_id_is_not_cut_short(tmp_path: Path) -> None:
    names = ContainerNames(str(tmp_path))
    assert names.container("lxc", "a-rather-long-container-name") == Container(
        "lxc", "a-rather-long-container-name", "a-rather-long-container-name"
    )


def test_a_listed_owner_carries_its_cgroup_and_json_says_where_it_runs() -> None:
    """A real child process's listener: the owner's cgroup is the one /proc/PID/cgroup gives, and the JSON's unit,
    container and pod are what classify() says of it."""
    import json
    import subprocess
    import sys

    from nettop.cgroups import classify, read_proc_cgroup

    script = (
        "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); "
        "print(s.getsockname()[1], flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        with open(f"/proc/{child.pid}/cgroup") as file:
            expected = read_proc_cgroup(file.read())
        done = subprocess.run([sys.executable, "-m", "nettop", "list", "--format", "json", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        child.kill()
        child.wait()
    (row,) = json.loads(done.stdout)
    assert row["pid"] == child.pid and row["owners"][0]["cgroup"] == expected == row["cgroup"]
    placement = classify(expected or "/")
    assert row["unit"] == placement.unit
    assert (row["container"] is None) == (placement.container is None)
    assert (row["pod"] is None) == (placement.pod is None)


# --- A socket's own cgroup: its id in the dump, found in the v2 tree, for sockets whose owners are unknown ---------


@pytest.fixture
def cgroup_of_our_own() -> Iterator[tuple[str, Path]]:
    """A cgroup in the v2 tree, named like a systemd scope, removed after the test (skipped where not permitted)."""
    from nettop.owners.cgroup_ids import cgroup2_root

    root = cgroup2_root()
    if root is None or os.geteuid() != 0:
        pytest.skip("needs root and a cgroup v2 hierarchy")
    name = f"nettop-test-{os.getpid()}.scope"
    directory = Path(root) / name
    try:
        directory.mkdir()
    except OSError as error:
        pytest.skip(f"cannot make a cgroup here: {error}")
    try:
        yield f"/{name}", directory
    finally:
        with contextlib.suppress(OSError):
            directory.rmdir()


def test_an_ownerless_socket_is_placed_by_its_own_cgroup(
    cgroup_of_our_own: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child moved into a cgroup of our own opens a listener: the dump's cgroup id for that socket is the
    cgroup's, and a collector that does not know the socket's owners (it is not root) says where it belongs."""
    from nettop.owners.cgroup_ids import CgroupPaths
    from nettop.sources import platform_source, sockdiag

    path, directory = cgroup_of_our_own
    code = "import socket,sys; sys.stdin.readline(); s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); " \
           "print(s.getsockname()[1], flush=True); sys.stdin.readline()"  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        (directory / "cgroup.procs").write_text(str(child.pid))  # before the socket: it takes its maker's cgroup
        child.stdin.write("go\n")
        child.stdin.flush()
        port = int(child.stdout.readline())
        cgroup_ids: dict[int, int] = {}
        (record,) = [
            r for r in sockdiag.records(sockdiag.receive(), cgroup_ids=cgroup_ids)
            if r.local_port == port and r.remote_ip is None
        ]  # fmt: skip
        assert record.inode is not None and cgroup_ids[record.inode] == directory.stat().st_ino
        assert CgroupPaths().path(cgroup_ids[record.inode]) == path

        # As a user who is not root sees it: the fd scan finds no owner, the socket's own cgroup says where.
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        monkeypatch.setattr("nettop.sources.linux.scan_socket_owners", lambda *args, **kwargs: SocketOwners())
        source = platform_source("netlink")
        snapshot = source.collect_blocking()
    finally:
        child.kill()
        child.wait()
    (seen,) = [r for r in snapshot.records if r.local_port == port and r.remote_ip is None]
    assert seen.runs_in is not None and seen.runs_in.unit_name == path[1:]
    row = json.loads(to_json([seen]))[0]
    assert (row["cgroup"], row["unit"], row["pid"]) == (path, path[1:], None)
    assert view.owner_place(seen) == path[1:]
    assert records_from_json(to_json([seen]))[0].placement == seen.placement


def test_details_say_where_an_owner_runs() -> None:
    from nettop.model import Owner
    from nettop.screens.details import describe
    from tests.scripted import conn

    owner = Owner(42, "nginx", "www", ("nginx",), 1.0, classify("/system.slice/nginx.service"))
    text = describe(conn(80)._replace(owners=(owner,)), []).plain
    assert "runs in nginx.service  (cgroup /system.slice/nginx.service)" in text
