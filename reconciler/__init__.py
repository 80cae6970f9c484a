"""The reconciler: finds stalled runs and resumes them from their history."""

from legato.reconciler.reconciler import PassStats, Reconciler
from legato.runtime.resume import Resumption, resume_run

__all__ = ["PassStats", "Reconciler", "Resumption", "resume_run"]
