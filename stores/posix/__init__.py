"""All file-system work done on a user's behalf, with that user's own credentials.

The service never opens a user's path. A worker process (``worker``) that has taken the
requester's uid and groups walks, opens and creates for them, and hands descriptors to
the service (``session.UserFiles``); the kernel checks every access as it would for the
user, and nothing re-walks a path that was checked earlier.
"""
