"""Storage adapters, by tier. ``posix``: file-system work done with a user's own credentials."""
