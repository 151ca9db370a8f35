"""An offline simulator of the Anthropic Messages API, and a fault injector.

It answers the real ``anthropic`` SDK with the exact streaming wire format, either
in-process (:class:`SimulatorTransport`, no socket) or over HTTP (:func:`serve`,
``python -m workbench.simulator``). What the model thinks, says and calls comes from a
scenario (:func:`load_scenario`) or, by default, from :func:`generic_scenario` for the
task at hand. A request that is not the workbench's own gets calls of its own tools, valid
against their schemas (:mod:`.own_tools`), or a short answer; faults (429, 529, a mid-stream ``error`` event, a dropped connection, a
stream without ``message_stop``) are injected by request number.
"""

from __future__ import annotations

from workbench.simulator.engine import RequestRecord, Simulator
from workbench.simulator.frames import (
    Frame,
    encode_frames,
    frame,
    make_message,
    message_frames,
    sign_thinking,
    verify_thinking,
)
from workbench.simulator.generic import generic_scenario
from workbench.simulator.model_list import DEFAULT_MODELS
from workbench.simulator.responses import ConnectionDropped, SimResponse
from workbench.simulator.rules import MessagesApiError
from workbench.simulator.scenario import (
    Fault,
    FaultKind,
    Plan,
    PlanPhase,
    Scenario,
    ToolCall,
    Turn,
    dump_scenario,
    load_scenario,
    parse_scenario,
    select_turn,
)
from workbench.simulator.server import make_app, serve
from workbench.simulator.transport import SimulatorTransport

__all__ = [
    "Simulator",
    "SimResponse",
    "RequestRecord",
    "ConnectionDropped",
    "MessagesApiError",
    "DEFAULT_MODELS",
    "SimulatorTransport",
    "make_app",
    "serve",
    "Scenario",
    "Plan",
    "PlanPhase",
    "Turn",
    "ToolCall",
    "Fault",
    "FaultKind",
    "load_scenario",
    "parse_scenario",
    "dump_scenario",
    "select_turn",
    "generic_scenario",
    "Frame",
    "frame",
    "encode_frames",
    "make_message",
    "message_frames",
    "sign_thinking",
    "verify_thinking",
]
