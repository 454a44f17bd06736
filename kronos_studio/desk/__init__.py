"""The front desk (``desk.Desk``): one method per use case, which the command line, the HTTP service, the MCP
server and the app call and only translate; its result cache (``cache``). The requests and results of the ledger's
use cases are exported here; the ledger itself is opened through ``desk.ledger`` (``open_ledger``), which imports
the database layer."""
from .adapters import Adapters, AdapterShown, AdaptersRequest, EntryRequest, Promoted, RolledBack
from .cache import ResultCache, result_key
from .desk import Desk, Evaluated, Forecasted, Gated, Retraining
from .drift import Drifted, DriftRequest, DriftThresholds
from .record import Recorded, RecordRequest
from .score import Scored, ScoreRequest, SeriesScored
from .track_record import (
    ExperimentsOption,
    LedgerQuery,
    ModelsQuery,
    Predictions,
    SeriesQuery,
    Steps,
    StepsRequest,
    TrackRecord,
    TrackRecordRequest,
)

__all__ = ["AdapterShown", "Adapters", "AdaptersRequest", "Desk", "DriftRequest", "DriftThresholds", "Drifted",
           "EntryRequest", "Evaluated", "ExperimentsOption", "Forecasted", "Gated", "LedgerQuery", "ModelsQuery",
           "Predictions", "Promoted", "RecordRequest", "Recorded", "Retraining", "ResultCache", "RolledBack",
           "ScoreRequest", "Scored", "SeriesQuery", "SeriesScored", "Steps", "StepsRequest", "TrackRecord",
           "TrackRecordRequest", "result_key"]
