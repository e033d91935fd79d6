from django.urls import include, path

from bench import views

urlpatterns = [
    path("bench/floor/", views.floor, name="bench-floor"),
    path("bench/heap/", views.heap, name="bench-heap"),
    path("bench/floor-write/", views.FloorWrite.as_view(), name="bench-floor-write"),
    path("", include("clinic.urls")),
]
