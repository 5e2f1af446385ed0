"""The viewer's screens: details of a connection, help, and the kill confirmation."""
