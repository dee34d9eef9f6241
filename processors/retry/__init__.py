"""Retries of system errors through the ``nearline.retry`` topic: what a processor sends
there (``schedule``) and the process that sends records back when due (``forwarder``,
run as ``python -m processors.retry``)."""
