"""Stream processors: faust-streaming agents that do nearline's work, one job each."""
