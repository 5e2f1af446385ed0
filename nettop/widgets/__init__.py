"""The viewer's widgets: the connection table, the filter bar and the status lines."""
