"""Which systemd unit, container or pod a cgroup path belongs to (Linux), from the path alone.

``read_proc_cgroup`` picks a process's path out of ``/proc/PID/cgroup``; ``classify`` turns a path into a
``Placement``. Nothing is read from disk here: names that only the runtimes know (a container's name and image,
a pod's namespace and name) are added by ``nettop.owners.runtimes.ContainerNames``.

The shapes, each with where it was documented:

* systemd units: ``/system.slice/nginx.service``, ``/system.slice/system-getty.slice/getty@tty1.service``,
  ``/user.slice/user-1000.slice/session-3.scope``, the user manager ``.../user@1000.service`` and its units
  (``.../user@1000.service/app.slice/app-gnome-firefox-1234.scope``), ``/init.scope``, and machined's
  ``/machine.slice/machine-qemu\\x2d1\\x2dvm.scope`` (systemd.io "Control Group APIs and Delegation";
  systemd.unit(5) on ``\\xNN`` escaping; kubernetes/community "Kubelet and systemd interaction").
* docker: ``/system.slice/docker-<64 hex>.scope`` (systemd driver), ``/docker/<64 hex>`` (cgroupfs driver, also
  nested: docker in docker), as DataDog's and Elastic's tracers match them.
* podman: ``/machine.slice/libpod-<64 hex>.scope`` and ``libpod-conmon-<64 hex>.scope`` (rootful), under
  ``.../user@1000.service/user.slice/`` (rootless), ``podman-<pid>.scope`` for podman's own pause process
  (containers/crun#376, podman#6400).
* kubelet: ``/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid, _ for ->.slice/`` then
  ``cri-containerd-<hex>.scope``, ``crio-<hex>.scope`` or ``docker-<hex>.scope`` (systemd driver);
  ``/kubepods/burstable/pod<uid>/<hex>`` (cgroupfs driver); guaranteed pods have no QoS level
  (CJLove/rt-operator ``notes/cgroupv1_notes.md``, rootless-containers/usernetes#200).
* LXC: ``/lxc.payload.<name>/...`` (LXC 4.0), ``/lxc.payload/<name>`` and legacy ``/lxc/<name>``; the monitor
  ``/lxc.monitor.<name>`` (falcosecurity/libs ``container_engine/lxc.cpp``). systemd-nspawn:
  ``/machine.slice/systemd-nspawn@<name>.service``.

cgroup v1 hierarchies carry the same shapes. A path is untrusted text: any string gives a ``Placement``.
When containers nest (docker in docker, a kind node's pods), the outermost container is the one reported:
it is the one whose runtime state the host can read.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """What holds a cgroup, in one word."""

    SERVICE = "service"
    SCOPE = "scope"
    #: A login session's scope (``session-N.scope``).
    SESSION = "session"
    #: A user's slice or their service manager (``user@N.service``) itself.
    USER = "user"
    CONTAINER = "container"
    #: A Kubernetes pod, or a container in one.
    POD = "pod"
    LXC = "lxc"
    #: A systemd-machined VM or an nspawn container.
    MACHINE = "machine"
    OTHER = "other"


#: A container cgroup's last part: a runtime prefix (or none: cgroupfs drivers) and the 64-hex id.
_CONTAINER_PART = re.compile(
    r"(?:(docker|libpod-conmon|libpod|cri-containerd|crio-conmon|crio|containerd|nerdctl)-)?([0-9a-f]{64})(?:\.scope)?"
)
_RUNTIME_OF_PREFIX = {
    "docker": "docker",
    "libpod": "podman",
    "libpod-conmon": "podman",
    "cri-containerd": "containerd",
    "containerd": "containerd",
    "nerdctl": "containerd",
    "crio": "cri-o",
    "crio-conmon": "cri-o",
}
_KIND_OF_RUNTIME = {"lxc": Kind.LXC, "nspawn": Kind.MACHINE, "machine": Kind.MACHINE}
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_QOS = ("burstable", "besteffort")
_UID_CHARS = frozenset("0123456789abcdefABCDEF-")
#: Lines of ``/proc/PID/cgroup`` looked at: a system has a dozen or so hierarchies.
_MAX_LINES = 64
#: v1 controllers whose path is taken when neither the unified nor the name=systemd line says more than ``/``.
_PREFERRED_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")


@dataclass(frozen=True, slots=True)
class Container:
    """A container: its runtime (``docker``, ``podman``, ``containerd``, ``cri-o``, ``cri`` when a kubelet's
    cgroupfs path does not say which, ``lxc``, ``nspawn``, ``machine``), id, and, when known, name and image."""

    runtime: str
    id: str
    name: str | None = None
    image: str | None = None

    @property
    def short_id(self) -> str:
        """A 64-hex id's first 12 characters, as ``docker ps`` shows it; a name-like id (LXC, nspawn) whole."""
        return self.id[:12] if len(self.id) == 64 else self.id


@dataclass(frozen=True, slots=True)
class Pod:
    """A Kubernetes pod: its uid from the path (dashes restored), QoS class, and namespace and name when known."""

    uid: str
    qos: str
    namespace: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """What a cgroup path says about whoever is in it.

    ``unit`` is the deepest systemd unit (of the system or a user manager) as systemd spells it (escaped:
    ``unescape_unit`` for display), ``slice`` the slice holding it, ``uid`` the user of a ``user-N.slice``.
    """

    cgroup: str
    kind: Kind
    unit: str | None = None
    slice: str | None = None
    uid: int | None = None
    container: Container | None = None
    pod: Pod | None = None

    @property
    def unit_name(self) -> str | None:
        """The unit as ``systemctl`` names it, escapes decoded (``getty@tty1.service``); None for no unit."""
        return unescape_unit(self.unit) if self.unit else None


def unescape_unit(name: str) -> str:
    """A unit name for display: systemd's ``\\xNN`` escapes (``\\x2d`` is ``-``) decoded."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), name)


def read_proc_cgroup(text: str) -> str | None:
    """The cgroup path in ``/proc/PID/cgroup`` text, or None when no line has one.

    The unified (v2) ``0::/path`` line first, then v1's ``name=systemd``, then a v1 controller's (memory, cpu,
    cpuacct, pids, then any). A path of ``/`` gives way to a deeper one of a later choice: on hybrid and v1 hosts a
    runtime may place a container only in the controller hierarchies, and the unified line then says ``/``.
    """
    unified = systemd = None
    controllers: dict[str, str] = {}
    for line in text.splitlines()[:_MAX_LINES]:
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue
        hierarchy, names, path = parts
        path = path.removesuffix(" (deleted)")
        if hierarchy == "0" and not names:
            unified = path
        elif names == "name=systemd":
            systemd = path
        else:
            for name in names.split(","):
                controllers.setdefault(name, path)
    ordered = [unified, systemd, *(controllers.get(name) for name in _PREFERRED_CONTROLLERS), *controllers.values()]
    found = [path for path in ordered if path is not None]
    return next((path for path in found if path != "/"), found[0] if found else None)


@functools.lru_cache(maxsize=4096)
def classify(path: str) -> Placement:
    """Where ``path`` sits: unit, slice, user, container, pod and the kind they add up to. Never raises."""
    parts = [part for part in path.split("/") if part]
    if ":" in path:
        parts = _split_runc_triples(parts)
    slice_, unit, uid = _systemd(parts)
    container = _container(parts)
    pod = _pod(parts)
    return Placement(
        cgroup=path,
        kind=_kind(unit, slice_, container, pod),
        unit=unit,
        slice=slice_,
        uid=uid,
        container=container,
        pod=pod,
    )


def _split_runc_triples(parts: list[str]) -> list[str]:
    """runc's systemd cgroups path ``<slice>:<prefix>:<id>`` written as one directory (a runtime that did not
    turn it into ``<slice>/<prefix>-<id>.scope``: containerd/runwasi#821) read as the two parts it stands for."""
    split = []
    for part in parts:
        fields = part.split(":")
        if len(fields) == 3 and fields[0].endswith(".slice") and all(fields):
            split += [fields[0], f"{fields[1]}-{fields[2]}.scope"]
        else:
            split.append(part)
    return split


def _systemd(parts: list[str]) -> tuple[str | None, str | None, int | None]:
    """The slice, unit and user along the path: units are followed down slices and into a user manager
    (``user@N.service``); below any other unit the tree is the unit's own (a container's systemd, say)."""
    slice_ = unit = uid = None
    for part in parts:
        if part.endswith(".slice"):
            slice_ = part
            uid = _user_number(part, "user-", ".slice") if uid is None else uid
        elif part.endswith((".service", ".scope")):
            if unit is not None and unit.startswith("user@") and part == "init.scope":
                break  # the user manager's own process
            unit = part
            if not part.startswith("user@"):
                break
            uid = _user_number(part, "user@", ".service")
        else:
            break
    return slice_, unit, uid


def _user_number(part: str, prefix: str, suffix: str) -> int | None:
    """N in ``user-N.slice`` or ``user@N.service``; None for other names or absurd numbers."""
    if not (part.startswith(prefix) and part.endswith(suffix)):
        return None
    digits = part[len(prefix) : -len(suffix)]
    return int(digits) if digits.isdigit() and len(digits) <= 10 else None


def _container(parts: list[str]) -> Container | None:
    """The outermost container along the path: a runtime's 64-hex scope or directory, LXC, nspawn, machined."""
    for index, part in enumerate(parts):
        if len(part) >= 64 and (match := _CONTAINER_PART.fullmatch(part)):
            prefix, cid = match.groups()
            return Container(_runtime(prefix, parts[:index]), cid)
        name = _lxc_name(part, parts[index + 1] if index + 1 < len(parts) else None)
        if name:
            return Container("lxc", name, name)
        if part.startswith("systemd-nspawn@") and part.endswith(".service") and len(part) > 23:
            name = unescape_unit(part[15:-8])
            return Container("nspawn", name, name)
        if part.startswith("machine-") and part.endswith(".scope") and len(part) > 14:
            name = unescape_unit(part[8:-6])
            return Container("machine", name, name)
    return None


def _runtime(prefix: str | None, above: list[str]) -> str:
    """The runtime of a container part: its prefix's, else its parent directory's (``/docker/<id>``), else
    ``cri`` under a kubelet's pods (containerd and dockershim write a bare id there), else ``unknown``."""
    if prefix:
        return _RUNTIME_OF_PREFIX[prefix]
    if above and above[-1] == "docker":
        return "docker"
    if any(part.startswith("kubepods") for part in above):
        return "cri"
    return "unknown"


def _lxc_name(part: str, following: str | None) -> str | None:
    """An LXC container's name: ``lxc.payload.<name>``, ``lxc.monitor.<name>``, or the part after ``lxc.payload``
    or ``lxc``."""
    for prefix in ("lxc.payload.", "lxc.monitor."):
        if part.startswith(prefix) and len(part) > len(prefix):
            return part[len(prefix) :]
    if part in ("lxc.payload", "lxc") and following:
        return following
    return None


def _pod(parts: list[str]) -> Pod | None:
    """The pod along a kubelet path: ``pod<uid>`` under ``kubepods`` (cgroupfs) or a ``kubepods…-pod<uid>.slice``
    (systemd, ``_`` for ``-`` in the uid); the QoS class from the level above, guaranteed when there is none."""
    qos = "guaranteed"
    seen_kubepods = False
    for part in parts:
        if part.endswith(".slice") and "kubepods" in part:
            seen_kubepods = True
            stem = part[: -len(".slice")]
            qos = next((name for name in _QOS if f"-{name}" in stem), qos)
            if "-pod" in stem:
                return _valid_pod(stem[stem.rindex("-pod") + 4 :].replace("_", "-"), qos)
        elif part == "kubepods":
            seen_kubepods = True
        elif seen_kubepods and part in _QOS:
            qos = part
        elif seen_kubepods and part.startswith("pod"):
            return _valid_pod(part[3:], qos)
    return None


def _valid_pod(uid: str, qos: str) -> Pod | None:
    """A Pod when ``uid`` looks like one (hex and dashes: a UUID, or a static pod's 32-hex hash)."""
    if 0 < len(uid) <= 64 and all(char in _UID_CHARS for char in uid):
        return Pod(uid.lower(), qos)
    return None


def _kind(unit: str | None, slice_: str | None, container: Container | None, pod: Pod | None) -> Kind:
    """The one word for a placement: the pod or container if any, else what the systemd unit is."""
    if pod is not None:
        return Kind.POD
    if container is not None:
        return _KIND_OF_RUNTIME.get(container.runtime, Kind.CONTAINER)
    if unit is not None:
        if unit.startswith("user@"):
            return Kind.USER
        if unit.startswith("session-") and unit.endswith(".scope"):
            return Kind.SESSION
        return Kind.SERVICE if unit.endswith(".service") else Kind.SCOPE
    if slice_ is not None and slice_.startswith("user-"):
        return Kind.USER
    return Kind.OTHER


def place_name(placement: Placement) -> str | None:
    """Where a process runs, in a few words: its container (its name, or ``docker:3f2a9c1b7e4d``), pod, or systemd
    unit (escapes decoded); None when none of these. What the Unit column shows, and what names a network
    namespace whose processes run there."""
    container, pod = placement.container, placement.pod
    if container is not None:
        return f"{container.runtime}:{container.name or container.short_id}"
    if pod is not None:
        return f"pod {pod.namespace}/{pod.name}" if pod.name else f"pod {pod.uid[:8]}"
    return placement.unit_name
