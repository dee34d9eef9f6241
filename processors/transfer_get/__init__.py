"""Transfer-get: restores a GET's sub-batches from the object store onto POSIX disk."""
