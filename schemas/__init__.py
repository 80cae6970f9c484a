"""Wire and file formats as msgspec Structs: blueprints, jobs, history events."""

from legato.schemas.blueprint import Blueprint, Edge, Loop, Node, NodeConfig, Retry
from legato.schemas.events import (
    TERMINAL_STATUSES,
    ContextWrite,
    Event,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunHeader,
    RunPaused,
    RunResumed,
    RunRetried,
    RunStarted,
    RunStatus,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
    StepWaiting,
)
from legato.schemas.jobs import Job
from legato.schemas.workers import WorkerInfo

__all__ = [
    "TERMINAL_STATUSES",
    "Blueprint",
    "ContextWrite",
    "Edge",
    "Event",
    "Job",
    "Loop",
    "Node",
    "NodeConfig",
    "Retry",
    "RunCancelled",
    "RunCompleted",
    "RunFailed",
    "RunHeader",
    "RunPaused",
    "RunResumed",
    "RunRetried",
    "RunStarted",
    "RunStatus",
    "SignalReceived",
    "StepCompleted",
    "StepFailed",
    "StepRecord",
    "StepSkipped",
    "StepWaiting",
    "WorkerInfo",
]
