from django.urls import path

from apps.health import views

app_name = "health"

# The path is also listed in settings.SECURE_REDIRECT_EXEMPT: keep the two in step.
urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
]
