"""Container and pod names from the container runtimes' own state files, read with bounds and cached.

``ContainerNames.resolve(placement)`` fills in what ``nettop.cgroups.classify`` could not know:

* docker: ``/var/lib/docker/containers/<id>/config.v2.json`` (rootless: ``~/.local/share/docker/containers/``),
  ``Name`` (written with a leading ``/``) and ``Config.Image``.
* podman: containers/storage's ``overlay-containers/containers.json``, a list of ``{"id", "names", "metadata"}``
  whose ``metadata`` is itself JSON holding ``image-name``; rootful under ``/var/lib/containers/storage``,
  rootless under ``~/.local/share/containers/storage`` of the user the path names.
* kubelet (containerd, CRI-O, dockershim): the pod from ``/var/log/pods/<namespace>_<name>_<uid>/`` and the
  container from ``/var/log/containers/<pod>_<namespace>_<container>-<id>.log`` (kubelet's
  ``kuberuntime/helpers.go`` builds both names).
* LXC, nspawn and machined: the name is the path's already.

A name that cannot be read (no file, no permission, a huge or hostile file, not JSON, the wrong types) is the
short id; nothing here raises. A miss is remembered only briefly, since a starting container writes its state
after its cgroup exists; a hit is remembered longer, as ``docker rename`` can change it.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nettop.cgroups import Container, Placement

#: A state file larger than this is not read: containers.json of a few thousand containers is well under it.
MAX_STATE_BYTES = 4 * 1024 * 1024
#: Directory entries looked at under /var/log/pods or /var/log/containers.
MAX_ENTRIES = 20_000
_Cached = tuple[Any, float]
_HEX = frozenset("0123456789abcdef")


def _home_of(uid: int) -> str | None:
    """The home directory of ``uid`` from the password database, or None."""
    try:
        return pwd.getpwuid(uid).pw_dir
    except (KeyError, OverflowError):
        return None


def read_bounded(path: str, limit: int = MAX_STATE_BYTES) -> bytes | None:
    """A regular file's bytes, or None when it is missing, unreadable, not a regular file (a FIFO would block)
    or larger than ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        return None if size > limit else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _load_json(path: str) -> Any:
    """The JSON in ``path``, or None for any file that cannot be read or parsed (deep nesting included)."""
    data = read_bounded(path)
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _text(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


class ContainerNames:
    """Names for containers and pods from the runtimes' state files under ``root``, cached by (runtime, id).

    ``home_of`` maps a uid to its home directory (for rootless podman); ``clock`` is seconds, monotonic.
    """

    def __init__(
        self,
        root: str = "/",
        *,
        home_of: Callable[[int], str | None] = _home_of,
        clock: Callable[[], float] = time.monotonic,
        miss_ttl: float = 5.0,
        hit_ttl: float = 300.0,
        max_cached: int = 4096,
    ) -> None:
        self.root = root
        self._home_of = home_of
        self._clock = clock
        self._miss_ttl = miss_ttl
        self._hit_ttl = hit_ttl
        self._max_cached = max_cached
        self._cache: dict[tuple[str, str], _Cached] = {}

    def resolve(self, placement: Placement) -> Placement:
        """``placement`` with its container's name and image and its pod's namespace and name filled in."""
        container, pod = placement.container, placement.pod
        if container is not None and container.name is None:
            container = self.container(container.runtime, container.id, uid=placement.uid, in_pod=pod is not None)
        if pod is not None and pod.name is None:
            found = self._cached(("pod", pod.uid), lambda: self._pod_dirs().get(pod.uid))
            if found is not None:
                pod = replace(pod, namespace=found[0], name=found[1])
        if container is placement.container and pod is placement.pod:
            return placement
        return replace(placement, container=container, pod=pod)

    def container(self, runtime: str, cid: str, *, uid: int | None = None, in_pod: bool = False) -> Container:
        """The container ``cid`` of ``runtime`` with its name and image, or its short id as the name."""
        found = self._cached((runtime, cid), lambda: self._lookup(runtime, cid, uid, in_pod))
        name, image = found if found is not None else (None, None)
        return Container(runtime, cid, name or Container(runtime, cid).short_id, image)

    def _cached(self, key: tuple[str, str], look: Callable[[], Any], *, brief: bool = False) -> Any:
        """``look()``'s answer for ``key``, kept ``hit_ttl`` seconds, or ``miss_ttl`` when it was None or
        ``brief`` (a whole listing or state file, shared by the lookups of one tick)."""
        now = self._clock()
        entry = self._cache.get(key)
        if entry is not None and entry[1] > now:
            return entry[0]
        value = look()
        brief = brief or value is None
        if len(self._cache) >= self._max_cached:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (value, now + (self._miss_ttl if brief else self._hit_ttl))
        return value

    def _path(self, *parts: str) -> str:
        return os.path.join(self.root, *(part.lstrip("/") for part in parts))

    def _lookup(self, runtime: str, cid: str, uid: int | None, in_pod: bool) -> tuple[str | None, str | None] | None:
        """(name, image) from the runtime's state, or None; only a 64-hex id is ever made into a path."""
        if len(cid) != 64 or not all(char in _HEX for char in cid):
            return None
        found = None
        if runtime == "docker":
            found = self._docker(cid, uid)
        elif runtime == "podman":
            found = self._podman(cid, uid)
        if found is None and in_pod:
            name = self._cri_container_names().get(cid)
            found = (name, None) if name else None
        return found

    def _stores(self, system: str, rootless: str, uid: int | None) -> list[str]:
        """A runtime's system state directory, then, for a user's container, the one in that user's home."""
        stores = [system]
        home = self._home_of(uid) if uid is not None and uid != 0 else None
        if home:
            stores.append(os.path.join(home, rootless))
        return stores

    def _docker(self, cid: str, uid: int | None) -> tuple[str | None, str | None] | None:
        """Name and image from docker's ``config.v2.json``; rootless docker keeps it under
        ``~/.local/share/docker`` (its containers sit in the user manager's ``user.slice``)."""
        for store in self._stores("var/lib/docker", ".local/share/docker", uid):
            doc = _load_json(self._path(store, "containers", cid, "config.v2.json"))
            if isinstance(doc, dict):
                name = _text(doc.get("Name"))
                config = doc.get("Config")
                image = _text(config.get("Image")) if isinstance(config, dict) else None
                name = name.lstrip("/") or None if name is not None else None
                return (name, image) if name or image else None
        return None

    def _podman(self, cid: str, uid: int | None) -> tuple[str | None, str | None] | None:
        """Name and image from containers/storage's ``containers.json``, rootful first, then the user's."""
        for store in self._stores("var/lib/containers/storage", ".local/share/containers/storage", uid):
            path = self._path(store, "overlay-containers/containers.json")
            doc = self._cached(("file", path), lambda path=path: _load_json(path), brief=True)
            for entry in doc if isinstance(doc, list) else ():
                if isinstance(entry, dict) and entry.get("id") == cid:
                    return _podman_entry(entry)
        return None

    def _pod_dirs(self) -> dict[str, tuple[str, str]]:
        """uid → (namespace, name) from the directory names under ``/var/log/pods``."""
        pods = {}
        for entry in self._cached(("dir", "pods"), lambda: self._list("var/log/pods"), brief=True):
            fields = entry.split("_")
            if len(fields) == 3 and all(fields):
                pods[fields[2].lower()] = (fields[0], fields[1])
        return pods

    def _cri_container_names(self) -> dict[str, str]:
        """container id → container name from the link names under ``/var/log/containers``."""
        names = {}
        for entry in self._cached(("dir", "containers"), lambda: self._list("var/log/containers"), brief=True):
            fields = entry.removesuffix(".log").split("_")
            if len(fields) == 3 and len(fields[2]) > 65 and fields[2][-65] == "-":
                names[fields[2][-64:]] = fields[2][:-65]
        return names

    def _list(self, directory: str) -> list[str]:
        """Up to ``MAX_ENTRIES`` names in a directory; none when it cannot be read."""
        names: list[str] = []
        try:
            with os.scandir(self._path(directory)) as entries:
                for entry in entries:
                    names.append(entry.name)
                    if len(names) >= MAX_ENTRIES:
                        break
        except OSError:
            return []
        return names


def _podman_entry(entry: dict[str, Any]) -> tuple[str | None, str | None] | None:
    """Name and image of one containers.json entry; the image name is in its ``metadata``, a JSON string."""
    names = entry.get("names")
    name = _text(names[0]) if isinstance(names, list) and names else None
    image = None
    metadata = entry.get("metadata")
    if isinstance(metadata, str) and len(metadata) <= MAX_STATE_BYTES:
        try:
            meta = json.loads(metadata)
        except (ValueError, RecursionError):
            meta = None
        image = _text(meta.get("image-name")) if isinstance(meta, dict) else None
    return (name, image) if name or image else None
