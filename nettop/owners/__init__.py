"""Who holds each socket: the ``/proc`` scan (``procfs``), the psutil enrichment cache (``enrich``), the join of
owners to a parse's records by inode or by endpoint (``join``), and terminating an owner (``kill``)."""
