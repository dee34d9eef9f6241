"""Indexing: turn the paths named in a PUT into bounded sub-batches of file records.

``walk`` examines the file system as the requesting user would see it, ``batches`` cuts
its output into bounded pieces, ``worker`` turns them into reports sent through what it
is given; ``__main__`` only wires it to its topic.
"""
