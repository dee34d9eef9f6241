"""The object-store side of transfers: files from POSIX disk into the S3 cache and back.

Pure I/O, no events: processors call ``ObjectStore`` and turn its outcomes (``Stored`` or
``Failure``) into events.
"""
