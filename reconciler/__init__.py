"""The reconciler: finds stalled runs and resumes them from their history."""

from legato.reconciler.reconciler import PassStats, Reconciler
from legato.reconciler.resume import Resumer, Resumption

__all__ = ["PassStats", "Reconciler", "Resumer", "Resumption"]
