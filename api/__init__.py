"""nearline's HTTP API: its own versioned JSON API under ``/api/v1`` and the NLDS 1.0.0
routes under ``/api/1.0.0``, both over one command layer and one set of queries."""
