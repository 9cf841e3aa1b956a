from django.apps import AppConfig


class RepatriationConfig(AppConfig):
    name = "custody.repatriation"
    label = "repatriation"
    default_auto_field = "django.db.models.BigAutoField"
