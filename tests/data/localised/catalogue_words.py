"""Print the words net-tools' own translations put in ``netstat``'s internet table, as Python for
``nettop/formats/netstat_linux.py`` (``LOCALISED_STATES``, ``QUEUE_HEADERS``).

    python3 tests/data/localised/catalogue_words.py [/usr/share/locale]

Reads every ``<lang>/LC_MESSAGES/net-tools.mo`` under the folder (Debian's net-tools 2.10 ships cs, de, et,
fr, ja, pt_BR) with the standard library's ``gettext`` reader: each translation of the TCP state names netstat
prints (``tcp_state[]`` in netstat.c) and of the queue headers of the ``Proto Recv-Q Send-Q ...`` line.
A translation equal to the English word is left out (``STATE_WORDS`` has it already).
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

#: netstat.c's tcp_state[] msgids → nettop's State member.
STATES = {
    "ESTABLISHED": "ESTABLISHED",
    "SYN_SENT": "SYN_SENT",
    "SYN_RECV": "SYN_RECV",
    "FIN_WAIT1": "FIN_WAIT1",
    "FIN_WAIT2": "FIN_WAIT2",
    "TIME_WAIT": "TIME_WAIT",
    "CLOSE": "CLOSE",
    "CLOSE_WAIT": "CLOSE_WAIT",
    "LAST_ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "UNKNOWN": "UNKNOWN",
}


def read_mo(data: bytes) -> dict[str, str]:
    """A .mo file's messages, decoded in the charset its header names (``gettext.GNUTranslations`` decodes the
    header as UTF-8 first and fails on the ISO-8859-1 catalogues)."""
    order = "<" if data[:4] == b"\xde\x12\x04\x95" else ">"
    count, ids_at, strs_at = struct.unpack(order + "3I", data[8:20])
    pairs = []
    for i in range(count):
        id_len, id_off = struct.unpack(order + "2I", data[ids_at + 8 * i : ids_at + 8 * i + 8])
        str_len, str_off = struct.unpack(order + "2I", data[strs_at + 8 * i : strs_at + 8 * i + 8])
        pairs.append((data[id_off : id_off + id_len], data[str_off : str_off + str_len]))
    header = dict(pairs).get(b"", b"")
    found = re.search(rb"charset=([-\w]+)", header)
    charset = found.group(1).decode() if found else "utf-8"
    return {k.decode(charset): v.decode(charset) for k, v in pairs if k}


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/locale")
    states: dict[str, tuple[str, set[str]]] = {}
    queues: dict[tuple[str, str], set[str]] = {}
    heads: dict[str, set[str]] = {}  # the State column's title: the header's last word
    for mo in sorted(root.glob("*/LC_MESSAGES/net-tools.mo")):
        lang = mo.parts[-3]
        catalogue = read_mo(mo.read_bytes())
        for msgid, name in STATES.items():
            word = catalogue.get(msgid, msgid)
            if word != msgid:
                states.setdefault(word, (name, set()))[1].add(lang)
        for msgid, text in catalogue.items():
            if isinstance(msgid, str) and msgid.strip().startswith("Proto Recv-Q Send-Q Local Address"):
                words = text.split()
                if len(words) > 3 and words[0] == "Proto":
                    queues.setdefault((words[1], words[2]), set()).add(lang)
                    heads.setdefault(words[-1], set()).add(lang)
    print("LOCALISED_STATES: dict[str, State] = {")
    for word, (name, langs) in sorted(states.items()):
        print(f"    {word!r}: State.{name},  # {' '.join(sorted(langs))}")
    print("}")
    print("QUEUE_HEADERS: frozenset[tuple[str, str]] = frozenset({")
    for pair, langs in sorted(queues.items()):
        print(f"    {pair!r},  # {' '.join(sorted(langs))}")
    print("})")
    print("STATE_HEADERS: frozenset[str] = frozenset({")
    for word, langs in sorted(heads.items()):
        print(f"    {word!r},  # {' '.join(sorted(langs))}")
    print("})")


if __name__ == "__main__":
    main()
