"""The transfer-put process: files from POSIX disk into the S3 cache.

``worker`` is what is done with a sub-batch (upload as the requester, report, or set it
aside for a retry); ``__main__`` only wires it to its topic. The object store itself is
``stores.s3``.
"""
