from procedures.models.catalogue import (
    BleedingRisk,
    Imaging,
    ProcedureFamily,
    ProcedureType,
    Purpose,
    SpinalRegion,
)
from procedures.models.facility import ProcedureRoom, RecoveryBay
from procedures.models.patients import ContactChannel, Language, Patient
from procedures.models.scheduling import (
    ACTIVE_STATUSES,
    CLOSED_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    Side,
)
from procedures.models.staff import PhysicianProfile
from procedures.models.system import Heartbeat

__all__ = [
    "ACTIVE_STATUSES",
    "CLOSED_STATUSES",
    "Appointment",
    "AppointmentStatus",
    "AppointmentTransition",
    "BleedingRisk",
    "ContactChannel",
    "Heartbeat",
    "Imaging",
    "Language",
    "Patient",
    "PhysicianProfile",
    "ProcedureFamily",
    "ProcedureRoom",
    "ProcedureType",
    "Purpose",
    "RecoveryBay",
    "Side",
    "SpinalRegion",
]
