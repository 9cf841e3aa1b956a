from django.urls import path

from custody.core import audit_views

app_name = "core"
urlpatterns = [
    path("", audit_views.audit_list, name="audit_list"),
    path("history/", audit_views.history_list, name="history_list"),
]
