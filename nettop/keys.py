"""Other keys for the viewer's actions, as top and htop users press them: the same binding on another key."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from textual.binding import Binding, BindingType

#: htop's function keys, by the id of the binding they stand for (F4 is htop's filter, F3 its search: both filter).
FUNCTION_KEYS: Mapping[str, str] = {"help": "f1", "filter": "f3,f4", "sort": "f6", "kill": "f9", "quit": "f10"}


def aliases(bindings: Iterable[BindingType], keys: Mapping[str, str]) -> list[Binding]:
    """A copy of each binding whose id is in ``keys`` on those keys, out of the footer (it would grow by one each);
    the same tooltip, so that the help lists it beside the key it stands for."""
    return [
        dataclasses.replace(binding, key=key, key_display=key.upper(), show=False, id=f"{binding.id}-{key}")
        for binding in bindings
        if isinstance(binding, Binding) and binding.id in keys
        for key in keys[binding.id].split(",")
    ]


def quit_on_ctrl_c(bindings: Iterable[BindingType]) -> Binding:
    """Ctrl+C quits, as in every top: before any widget's binding (the filter's input would copy with it)."""
    (quit_binding,) = (b for b in bindings if isinstance(b, Binding) and b.id == "quit")
    return dataclasses.replace(quit_binding, key="ctrl+c", show=False, priority=True, id="quit-ctrl-c")
