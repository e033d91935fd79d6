from datetime import date, timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from procedures.models import (
    Appointment,
    AppointmentStatus,
    Patient,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
)
from procedures.roles import Role

PASSWORD = "spinedesk-test"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=role))
        if create:
            self.save()


class PhysicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhysicianProfile

    user = factory.SubFactory(UserFactory, roles=[Role.PHYSICIAN])
    display_name = factory.Sequence(lambda n: f"Dr Physician{n}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"T{100000 + n}")
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = factory.Sequence(lambda n: f"Ient{n}")
    date_of_birth = date(1960, 5, 17)
    phone = factory.Sequence(lambda n: f"+1555020{1000 + n}")
    email = factory.LazyAttribute(lambda p: f"{p.first_name.lower()}@example.org")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcedureRoom

    name = factory.Sequence(lambda n: f"Room {n}")
    has_fluoroscopy = True


class RecoveryBayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecoveryBay

    name = factory.Sequence(lambda n: f"Bay {n}")


class ProcedureTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcedureType

    name = factory.Sequence(lambda n: f"Lumbar transforaminal ESI {n}")
    cpt_code = "64483"
    family = "esi_transforaminal"
    spinal_region = "lumbar"
    purpose = "therapeutic"
    imaging = "fluoroscopy"
    uses_contrast = True
    procedure_minutes = 30
    monitoring_minutes = 15
    monitoring_minutes_sedated = 30
    bleeding_risk = "intermediate"
    uses_steroid = True
    sedation_allowed = True


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    procedure_type = factory.SubFactory(ProcedureTypeFactory)
    physician = factory.SubFactory(PhysicianFactory)
    room = factory.SubFactory(RoomFactory)
    start = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0) + timedelta(days=1))
    end = factory.LazyAttribute(lambda a: a.start + timedelta(minutes=a.procedure_type.procedure_minutes))
    room_until = factory.LazyAttribute(lambda a: a.end + timedelta(minutes=10))
    monitoring_until = factory.LazyAttribute(
        lambda a: a.end + timedelta(minutes=a.procedure_type.monitoring_for(sedated=a.sedation_planned))
    )
    sedation_planned = False
    status = AppointmentStatus.SCHEDULED
    status_changed_at = factory.LazyFunction(timezone.now)


def staff_cast() -> dict:
    """The fixed cast: frontdesk, nurse, physician (with profile), admin (clinic admin), outsider (no role)."""
    cast = {
        "frontdesk": UserFactory(
            username="frontdesk", first_name="Maria", last_name="Gomez", roles=[Role.FRONT_DESK]
        ),
        "nurse": UserFactory(username="nurse", first_name="Sam", last_name="Ortiz", roles=[Role.NURSE]),
        "physician": UserFactory(
            username="physician", first_name="Alex", last_name="Lee", roles=[Role.PHYSICIAN]
        ),
        "admin": UserFactory(
            username="admin", first_name="Robin", last_name="Hart", roles=[Role.CLINIC_ADMIN]
        ),
        "outsider": UserFactory(username="outsider", first_name="No", last_name="Role"),
    }
    cast["admin"].is_staff = True
    cast["admin"].save()
    PhysicianFactory(user=cast["physician"], display_name="Dr Lee")
    return cast
