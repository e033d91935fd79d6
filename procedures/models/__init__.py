from procedures.models.availability import ExceptionKind, ScheduleException, Weekday, WorkingHours
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
from procedures.models.waitlist import OfferStatus, WaitlistEntry, WaitlistOffer, WaitlistStatus

__all__ = [
    "ACTIVE_STATUSES",
    "CLOSED_STATUSES",
    "Appointment",
    "AppointmentStatus",
    "AppointmentTransition",
    "BleedingRisk",
    "ContactChannel",
    "ExceptionKind",
    "Heartbeat",
    "Imaging",
    "Language",
    "OfferStatus",
    "Patient",
    "PhysicianProfile",
    "ProcedureFamily",
    "ProcedureRoom",
    "ProcedureType",
    "Purpose",
    "RecoveryBay",
    "ScheduleException",
    "Side",
    "SpinalRegion",
    "WaitlistEntry",
    "WaitlistOffer",
    "WaitlistStatus",
    "Weekday",
    "WorkingHours",
]
