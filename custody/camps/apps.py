from django.apps import AppConfig


class CampsConfig(AppConfig):
    name = "custody.camps"
    label = "camps"
    default_auto_field = "django.db.models.BigAutoField"
