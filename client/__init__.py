"""nearline's client side: a Python library over the HTTP API (``client.library``) and
the ``nearline`` command line (``client.cli``)."""
