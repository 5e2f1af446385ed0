"""Remote hosts over ssh (``--host``): the transport (``ssh``), the collector a host runs (``collector``), and the
state its answers build (``state``). The source itself is ``nettop.sources.remote``."""
